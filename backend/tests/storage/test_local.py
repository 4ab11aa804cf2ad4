"""Local storage only: file modes, a real full disk, the flock-based temp sweeper, lock files.

The contract every backend keeps (atomic put, cleanup on failure, atomic state
updates, ...) is tested once for all backends in test_contract.py.
"""

import errno
import os
import secrets
import stat
import subprocess
import threading
import time

import pytest

from anon_hosting.errors import InsufficientStorage
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


def test_updates_lock_one_file_per_name_and_delete_removes_it(store):
    n = name()
    store.put(n, [b"x"], STATE)
    store.update_state(n, lambda s: {**s, "count": 1})
    assert listing(store) == sorted(files(n) + [n + ".lock"])
    assert store.delete(n) is True
    assert listing(store) == []


def test_state_files_hold_no_secrets(store):
    n = name()
    store.put(n, [b"x"], {"v": 1, "exp": 5, "max": None})
    assert (store.root / (n + ".state")).read_text() == '{"exp":5,"max":null,"v":1}'
    assert stat.S_IMODE(os.stat(store.root / (n + ".state")).st_mode) == 0o600


@pytest.mark.parametrize(("code", "raised"), [(errno.EIO, OSError), (errno.ENOSPC, InsufficientStorage)])
def test_a_failed_background_flush_fails_the_put_and_leaves_nothing(store, monkeypatch, code, raised):
    # An fsync error is reported once per file: one that a background flush saw must not be lost.
    def failing(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(raised):
        store.put(name(), (b"\0" * (1 << 20) for _ in range(24)), STATE)
    assert listing(store) == []
