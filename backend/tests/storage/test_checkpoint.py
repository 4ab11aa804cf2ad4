"""storage/checkpoint.py: commits never checkpoint the WAL; the process's checkpoint thread does, within a second.

Each case runs in a fresh interpreter, so that the thread it watches is that process's own and its
first commit starts it. The index holds 400 blobs of 16 KiB (about 1,600 pages, past SQLite's
default autocheckpoint of 1,000): only a checkpoint moves them from index.db-wal into index.db.
"""

import subprocess
import sys
import textwrap

SETUP = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from anon_hosting.storage import checkpoint
    from anon_hosting.storage.index import INDEX, Index
    root = Path(sys.argv[1])
    checkpoint.EVERY = float(sys.argv[2])
""")
WRITE = textwrap.dedent("""
    index = Index(root)
    size = lambda: os.path.getsize(root / INDEX)
    before = size()
    for n in range(400):
        index.insert(f"name-{n:04d}", {"exp": 2e9}, os.urandom(16 << 10), 16 << 10)
    after_commits = size()
""")

AWAIT_COPY = """
    deadline = time.monotonic() + 30
    while size() <= before + 400 * (16 << 10) and time.monotonic() < deadline:
        time.sleep(0.05)
    print(before, size())
"""


def _run(tmp_path, every: float, then: str, first: str = "") -> str:
    code = SETUP + textwrap.dedent(first) + WRITE + textwrap.dedent(then)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(every)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _copied(out: str) -> bool:
    """Whether the 400 commits' pages reached index.db (``AWAIT_COPY``'s two sizes)."""
    before, later = map(int, out.split())
    return later > before + 400 * (16 << 10)


def test_commits_leave_the_wal_to_the_checkpoint(tmp_path):
    out = _run(tmp_path, 3600, """
        print(before, after_commits)
        index.checkpoint()
        print(size())
    """)
    (before, after_commits), (checkpointed,) = (map(int, line.split()) for line in out.splitlines())
    assert after_commits == before, "a commit checkpointed the WAL: that work would land on one request"
    assert checkpointed > before + 400 * (16 << 10), "checkpoint() copies the committed pages into index.db"


def test_the_process_thread_checkpoints_within_a_round(tmp_path):
    assert _copied(_run(tmp_path, 0.2, AWAIT_COPY)), "the checkpoint thread never copied the WAL into index.db"


def test_an_index_that_fails_its_checkpoint_leaves_the_thread_to_the_others(tmp_path):
    # The thread opens its own connection to each index: with the folder gone, that open fails.
    out = _run(tmp_path / "kept", 0.2, AWAIT_COPY, first="""
        import shutil
        gone = root.parent / "gone"
        root.mkdir()
        gone.mkdir()
        with checkpoint._running:  # no round until the folder is gone
            Index(gone).insert("lost", {"exp": 2e9}, b"x", 1)
            shutil.rmtree(gone)
        time.sleep(0.5)  # a round or two meet it
    """)
    assert _copied(out), "one failed checkpoint ended the thread: no other index is copied"
