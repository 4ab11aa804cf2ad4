"""Local storage: atomic durable put, cleanup on every failure, a real full disk, the temp sweeper."""

import os
import secrets
import stat
import subprocess
import threading
import time

import pytest

from anon_hosting.errors import InsufficientStorage, NotFound
from anon_hosting.storage.local import TEMP_PREFIX, LocalStorage


STATE = {"v": 1, "exp": 2_000_000_000}


def name() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def store(tmp_path):
    return LocalStorage(tmp_path / "files")


def listing(store) -> list[str]:
    return sorted(os.listdir(store.root))


def files(*names) -> list[str]:
    return sorted([n for n in names] + [n + ".state" for n in names])


def test_put_then_open_round_trips_with_mode_0600(store):
    n = name()
    assert store.put(n, [b"abc", b"", b"def"], STATE) == 6
    blob = store.open(n)
    assert (blob.size, blob.read(100)) == (6, b"abcdef")
    blob.close()
    assert stat.S_IMODE(os.stat(store.root / n).st_mode) == 0o600
    assert listing(store) == files(n)


def test_a_failing_source_leaves_nothing(store):
    def source():
        yield b"x" * 1000
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(name(), source(), STATE)
    assert listing(store) == []


def test_nothing_is_visible_until_put_returns(store):
    n, seen = name(), []

    def source():
        yield b"first"
        seen.append(store.exists(n))
        with pytest.raises(NotFound):
            store.open(n)
        yield b"second"

    store.put(n, source(), STATE)
    assert seen == [False]
    assert store.exists(n)


def test_put_never_overwrites(store):
    n = name()
    store.put(n, [b"original"], STATE)
    with pytest.raises(FileExistsError):
        store.put(n, [b"replacement"], STATE)
    assert store.open(n).read(100) == b"original"
    assert listing(store) == files(n)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a" * 42, "a" * 44, ".tmp-" + "a" * 38, "", "a/" + "b" * 41])
def test_names_outside_the_pattern_never_reach_the_filesystem(store, bad):
    for call in (store.open, store.exists, store.delete, lambda n: store.put(n, [b"x"], STATE), store.read_state, store.delete_blob):
        with pytest.raises(ValueError):
            call(bad)


def test_missing_blob_is_not_found(store):
    with pytest.raises(NotFound):
        store.open(name())
    assert store.delete(name()) is False


def test_delete(store):
    n = name()
    store.put(n, [b"x"], STATE)
    assert store.delete(n) is True
    assert not store.exists(n)


def test_ping_leaves_nothing(store):
    store.ping()
    assert listing(store) == []


def test_sweep_removes_dead_writers_temp_files_only(store):
    dead = store.root / f"{TEMP_PREFIX}dead"
    dead.write_bytes(b"left by a killed process")
    old = time.time() - 3600
    os.utime(dead, (old, old))
    release, started = threading.Event(), threading.Event()

    def slow_source():
        yield b"in flight"
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
    assert listing(store) == files(n)
    assert store.open(n).read(100) == b"in flight and done"


def test_sweep_spares_brand_new_temp_files(store):
    fresh = store.root / f"{TEMP_PREFIX}fresh"
    fresh.write_bytes(b"")
    assert store.sweep_temp() == 0
    assert fresh.exists()


@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_insufficient_storage_and_leaves_nothing(tiny_disk):
    store = LocalStorage(tiny_disk / "files")
    with pytest.raises(InsufficientStorage):
        store.put(name(), (b"\0" * 65536 for _ in range(64)), STATE)
    assert listing(store) == []
    small = name()
    store.put(small, [b"still works"], STATE)
    assert listing(store) == files(small)


def _increment(root, n, times):
    store = LocalStorage(root)
    for _ in range(times):
        store.update_state(n, lambda s: {**s, "count": s.get("count", 0) + 1})


def test_state_updates_are_atomic_across_processes(store):
    import multiprocessing
    n = name()
    store.put(n, [b"x"], STATE)
    ctx = multiprocessing.get_context("fork")
    processes = [ctx.Process(target=_increment, args=(store.root, n, 50)) for _ in range(6)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(30)
        assert p.exitcode == 0
    assert store.read_state(n)["count"] == 300
    assert listing(store) == sorted(files(n) + [n + ".lock"])


def test_a_failing_update_writes_nothing(store):
    n = name()
    store.put(n, [b"x"], STATE)

    def refuse(state):
        raise RuntimeError("rule says no")

    with pytest.raises(RuntimeError):
        store.update_state(n, refuse)
    assert store.read_state(n) == STATE
    assert not [p for p in listing(store) if p.startswith(TEMP_PREFIX)]


def test_delete_removes_state_and_blob_and_delete_blob_keeps_the_state(store):
    a, b = name(), name()
    store.put(a, [b"x"], STATE)
    store.put(b, [b"y"], STATE)
    assert store.delete_blob(b) is True
    assert store.read_state(b) == STATE and not store.exists(b)
    assert sorted(store.names()) == sorted([a, b])
    assert store.delete(a) is True
    with pytest.raises(NotFound):
        store.read_state(a)
    with pytest.raises(NotFound):
        store.update_state(a, lambda s: s)
    assert list(store.names()) == [b]


def test_state_files_hold_no_secrets(store):
    n = name()
    store.put(n, [b"x"], {"v": 1, "exp": 5, "max": None})
    assert (store.root / (n + ".state")).read_text() == '{"exp":5,"max":null,"v":1}'
    assert stat.S_IMODE(os.stat(store.root / (n + ".state")).st_mode) == 0o600
