"""Local storage only: file modes, the index, a real full disk, the temp and orphan sweeps, forks.

The contract every backend keeps (atomic put, cleanup on failure, atomic state
updates, ...) is tested once for all backends in test_contract.py.
"""

import multiprocessing
import os
import secrets
import sqlite3
import stat
import subprocess
import threading
import time

import pytest

from anon_hosting.errors import InsufficientStorage, NotFound
from anon_hosting.storage.index import _EXPIRED
from anon_hosting.storage.local import INDEX, INLINE_MAX, TEMP_PREFIX, LocalStorage

from .stores import entries, local_rows

STATE = {"v": 1, "exp": 2_000_000_000}


def name() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def store(tmp_path):
    return LocalStorage(tmp_path / "files")


def files(*names) -> list[str]:
    return sorted([n for n in names] + [n + ".state" for n in names])


def blob_files(store) -> list[str]:
    return sorted(p for p in os.listdir(store.root) if not p.startswith(INDEX))


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_small_blob_lives_in_its_row_and_a_larger_one_in_a_file_all_mode_0600(store):
    small, large = name(), name()
    assert store.put(small, [b"abc", b"", b"def"], STATE) == 6
    assert store.put(large, [b"x" * INLINE_MAX, b"y"], STATE) == INLINE_MAX + 1
    blob = store.open(small)
    assert (blob.size, blob.read(100)) == (6, b"abcdef")
    blob.close()
    assert blob_files(store) == [large]
    assert local_rows(store.root) == {small, small + ".state", large + ".state"}
    for path in [store.root / large] + [p for p in store.root.iterdir() if p.name.startswith(INDEX)]:
        assert mode(path) == 0o600, path
    assert {p.name for p in store.root.iterdir() if p.name.startswith(INDEX)} >= {INDEX, INDEX + "-wal"}


def test_sweep_removes_dead_writers_temp_files_only(store):
    dead = store.root / f"{TEMP_PREFIX}dead"
    dead.write_bytes(b"left by a killed process")
    old = time.time() - 3600
    os.utime(dead, (old, old))
    release, started = threading.Event(), threading.Event()

    def slow_source():
        yield b"in flight" + b"." * INLINE_MAX  # more than a row holds: it goes to a temp file
        started.set()
        release.wait(10)
        yield b" and done"

    n = name()
    writer = threading.Thread(target=store.put, args=(n, slow_source(), STATE))
    writer.start()
    started.wait(10)
    live = [p for p in store.root.iterdir() if p.name.startswith(TEMP_PREFIX) and p != dead]
    for p in live:
        os.utime(p, (old, old))  # even an old-looking temp file survives while its writer holds the lock
    assert store.sweep_temp() == 1
    assert not dead.exists()
    release.set()
    writer.join(10)
    assert entries(store) == files(n)
    assert store.open(n).read(INLINE_MAX + 100) == b"in flight" + b"." * INLINE_MAX + b" and done"


def test_sweep_removes_blob_files_no_row_names_once_an_hour_old(store):
    kept = name()
    store.put(kept, [b"k" * (INLINE_MAX + 1)], STATE)
    orphan, young = store.root / name(), store.root / name()
    orphan.write_bytes(b"linked, then the process died before its row was committed")
    young.write_bytes(b"linked a moment ago; its row is being committed")
    old = time.time() - 3700
    for path in (orphan, store.root / kept):
        os.utime(path, (old, old))
    assert store.sweep_temp() == 1
    assert blob_files(store) == sorted([kept, young.name])


@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)  # the store may still hold its index open


def test_a_full_disk_is_insufficient_storage_and_leaves_nothing(tiny_disk):
    store = LocalStorage(tiny_disk / "files")
    with pytest.raises(InsufficientStorage):
        store.put(name(), (b"\0" * 65536 for _ in range(64)), STATE)
    assert entries(store) == []
    small = name()
    store.put(small, [b"still works"], STATE)
    assert entries(store) == files(small)


def test_an_index_that_cannot_grow_is_insufficient_storage_and_changes_nothing(tiny_disk):
    store = LocalStorage(tiny_disk / "files")
    kept = name()
    store.put(kept, [b"kept"], STATE)
    filler = tiny_disk / "filler"
    with open(filler, "wb", buffering=0) as f, pytest.raises(OSError):
        while True:
            f.write(b"\0" * 4096)
    with pytest.raises(InsufficientStorage):
        for _ in range(50):  # the first few may still fit in pages the index already has
            store.put(name(), [os.urandom(INLINE_MAX)], STATE)
    assert store.read_state(kept) == STATE
    filler.unlink()
    assert all(store.open(n).read(INLINE_MAX + 1) for n in store.names())
    assert store.update_state(kept, lambda s: {**s, "count": 1})["count"] == 1


def test_updates_and_deletes_leave_no_file_behind(store):
    n = name()
    store.put(n, [b"x"], STATE)
    store.update_state(n, lambda s: {**s, "count": 1})
    assert blob_files(store) == []
    assert store.delete(n) is True
    assert entries(store) == []


def test_changes_made_at_once_are_each_committed_or_refused_on_their_own(store):
    # Changes that threads make while one commits share the next transaction (group commit): one taken
    # name, one refused update or one missing name must not fail or undo the others of its group.
    kept, taken, fresh = name(), name(), [name() for _ in range(24)]
    store.put(kept, [b"kept"], {**STATE, "count": 0})
    store.put(taken, [b"first"], STATE)

    def refuse(state):
        raise LookupError("refused")

    jobs = [lambda n=n: store.put(n, [n.encode()], STATE) for n in fresh]
    jobs += [lambda: store.update_state(kept, lambda s: {**s, "count": s["count"] + 1})] * 8
    jobs += [lambda: store.put(taken, [b"second"], STATE), lambda: store.update_state(kept, refuse),
             lambda: store.update_state(name(), refuse), lambda: store.delete(name())]
    start, answers = threading.Barrier(len(jobs)), [None] * len(jobs)

    def run(i: int) -> None:
        start.wait(10)
        try:
            answers[i] = jobs[i]()
        except Exception as exc:  # noqa: BLE001 - compared below
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers[:24] == [len(n) for n in fresh]
    assert [type(a) for a in answers[-4:]] == [FileExistsError, LookupError, NotFound, bool]
    assert answers[-1] is False
    again = LocalStorage(store.root)  # what was committed, read through a connection of its own
    assert again.read_state(kept)["count"] == 8
    assert again.open(taken).read(100) == b"first"
    assert all(again.open(n).read(100) == n.encode() for n in fresh)


def test_states_hold_no_secrets(store):
    n = name()
    store.put(n, [b"x"], {"v": 1, "exp": 5, "max": None})
    with sqlite3.connect(store.root / INDEX) as db:
        assert db.execute("SELECT state FROM files").fetchall() == [('{"exp":5,"max":null,"v":1}',)]


def _open_and_put(root, start) -> None:
    start.wait(30)
    LocalStorage(root).put(name(), [b"x"], STATE)


def test_workers_opening_a_new_folder_at_the_same_moment_all_start(tmp_path):
    # gunicorn boots its workers together: each creates the index and switches it to WAL, and SQLite answers
    # a second switcher "database is locked" at once, without waiting, unless the switch is serialised.
    context = multiprocessing.get_context("fork")
    for attempt in range(30):
        root, start = tmp_path / f"fresh-{attempt}", context.Barrier(4)
        workers = [context.Process(target=_open_and_put, args=(root, start)) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0] * 4, f"attempt {attempt}"
        assert len(list(LocalStorage(root).names())) == 4


def _use_after_fork(store, result) -> None:
    try:
        store.read_state(name())
    except RuntimeError as exc:
        result.put(str(exc))
    else:
        result.put("no error")
    LocalStorage(store.root).put(name(), [b"x"], STATE)  # a store opened in the child works


def test_a_store_is_used_only_in_the_process_that_opened_it(store):
    store.put(name(), [b"x"], STATE)  # this thread now holds a connection
    context = multiprocessing.get_context("fork")
    result = context.Queue()
    child = context.Process(target=_use_after_fork, args=(store, result))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert "open another after a fork" in result.get(timeout=5)
    assert len(list(store.names())) == 2  # the parent's connection is unharmed, and sees the child's write


def _steps(store, call) -> int:
    """SQLite virtual-machine steps that ``call`` makes on this thread's connection: its reads, counted."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    db = store._index._db()
    db.set_progress_handler(tick, 1)
    try:
        call()
    finally:
        db.set_progress_handler(None, 1)
    return count[0]


def test_the_expired_query_reads_the_indexes_not_every_row(tmp_path):
    now, stores = 1_900_000_000, {}
    for count in (20, 2000):
        store = stores[count] = LocalStorage(tmp_path / str(count))
        for _ in range(count):
            store.put(name(), [b"x"], {"v": 1, "exp": now + 3600, "gone": None})
    expired = {count: _steps(store, lambda store=store: list(store.expired(now))) for count, store in stores.items()}
    scans = {count: _steps(store, lambda store=store: list(store.names())) for count, store in stores.items()}
    assert scans[2000] - scans[20] > 1980  # reading every row grows with the rows
    assert expired[2000] - expired[20] < 50, expired  # the sweep's query does not
    plan = " ".join(row[3] for row in store._index._db().execute("EXPLAIN QUERY PLAN " + _EXPIRED, (now,)))
    assert "USING INDEX files_by_expiry" in plan and "USING INDEX files_used_up" in plan, plan


def test_usage_counts_files_with_a_blob_and_their_bytes(store):
    small, big, emptied = name(), name(), name()
    store.put(small, [b"s" * 10], STATE)
    store.put(big, [b"b" * (INLINE_MAX + 1)], STATE)
    store.put(emptied, [b"e" * 5], STATE)
    store.delete_blob(emptied)  # a tombstone holds no bytes
    assert store.usage() == (2, 10 + INLINE_MAX + 1)
    store.delete(big)
    assert store.usage() == (1, 10)
    store.put_many([(name(), b"m" * 7, STATE), (name(), b"n" * 3, STATE)])  # a bundle's small files
    assert store.usage() == (3, 20)


def test_an_index_made_without_sizes_gets_them_when_opened(tmp_path):
    root = tmp_path / "files"
    store = LocalStorage(root)
    small, big = name(), name()
    store.put(small, [b"s" * 10], STATE)
    store.put(big, [b"b" * (INLINE_MAX + 1)], STATE)
    with sqlite3.connect(root / INDEX) as db:  # the table as it was before the size column
        db.execute("DROP INDEX files_by_size")
        db.execute("ALTER TABLE files DROP COLUMN size")
    assert LocalStorage(root).usage() == (2, 10 + INLINE_MAX + 1)


def test_put_many_commits_small_blobs_all_or_none(tmp_path):
    store = LocalStorage(tmp_path)
    taken = secrets.token_urlsafe(32)
    store.put(taken, [b"first"], {"v": 1, "exp": 2_000_000_000})
    fresh = [secrets.token_urlsafe(32) for _ in range(3)]
    with pytest.raises(FileExistsError):
        store.put_many([(fresh[0], b"a", {"v": 1, "exp": 1}), (taken, b"b", {"v": 1, "exp": 1}),
                        (fresh[1], b"c", {"v": 1, "exp": 1})])
    assert local_rows(tmp_path) == {taken, taken + ".state"}
