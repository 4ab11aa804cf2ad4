"""The background sweeper: a full sweep when it first leads, regular ones after it, and a clean stop."""

import os
import secrets
import threading
import time

from anon_hosting import lifecycle, sweeper
from anon_hosting.keys import KeyRing
from anon_hosting.results import Limits
from anon_hosting.service import FileService
from anon_hosting.storage.local import TEMP_PREFIX, LocalStorage


def wait_until(condition, timeout=30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def dead_temp_file(folder) -> object:
    path = folder / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    path.write_bytes(b"left by a dead writer")
    os.utime(path, (0, 0))
    return path


def expired_file(storage) -> str:
    name = secrets.token_urlsafe(32)
    storage.put(name, [b"x"], lifecycle.new(int(time.time()) - 10, None))
    return name


def test_the_first_sweep_is_full_and_the_next_ones_look_only_at_what_expired(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    service = FileService(storage, KeyRing(tmp_path / "private", "k" * 40), Limits(1 << 20, 3600, 86400))
    first_leftover = dead_temp_file(storage.root)
    stop = threading.Event()
    thread = sweeper.start(service, 0.1, tmp_path / ".sweeper.lock", stop)
    try:
        assert wait_until(lambda: not first_leftover.exists()), "the first (full) sweep did not run"
        second_leftover = dead_temp_file(storage.root)
        name = expired_file(storage)
        assert wait_until(lambda: name not in set(storage.names())), "no regular sweep removed the expired file"
        assert second_leftover.exists()  # left for the next full sweep, a day later
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()

