"""The sealed key set: created once under races, sealed with SECRET_KEY, rotated and retired."""

import multiprocessing
import os
import stat

import pytest

from anon_hosting.errors import ConfigError
from anon_hosting.keys import KEYSET_FILE, KeyRing, check

SECRET = "k" * 40


def _start_and_report(folder, barrier, queue):
    barrier.wait()
    ring = KeyRing(folder, SECRET)
    kid, key = ring.active()
    queue.put(key.export())


def test_concurrent_first_start_creates_exactly_one_key_set(tmp_path):
    folder = tmp_path / "private"
    ctx = multiprocessing.get_context("spawn")
    workers = 8
    barrier, queue = ctx.Barrier(workers), ctx.Queue()
    processes = [ctx.Process(target=_start_and_report, args=(folder, barrier, queue)) for _ in range(workers)]
    for p in processes:
        p.start()
    keys = {queue.get(timeout=60) for _ in processes}
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(keys) == 1, "every process must end up with the same key"
    assert KeyRing(folder, SECRET).active()[1].export() in keys
    assert sorted(os.listdir(folder)) == [KEYSET_FILE], "no temp file may be left behind"


def test_key_file_is_0600_in_a_0700_folder(tmp_path):
    KeyRing(tmp_path / "private", SECRET)
    assert stat.S_IMODE(os.stat(tmp_path / "private" / KEYSET_FILE).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "private").st_mode) == 0o700


def test_the_file_holds_no_key_in_the_clear(tmp_path):
    ring = KeyRing(tmp_path / "private", SECRET)
    text = (tmp_path / "private" / KEYSET_FILE).read_text()
    assert ring.active()[1].export_symmetric() not in text
    assert ring.active()[1]["k"] not in text
    assert text.count(".") == 4, "the file is a compact JWE"


def test_a_different_secret_key_cannot_open_it(tmp_path):
    KeyRing(tmp_path / "private", SECRET)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        KeyRing(tmp_path / "private", "another-secret-key-of-enough-length!!")


def test_check_opens_an_existing_key_set_and_never_creates_one(tmp_path):
    check(tmp_path / "private", SECRET)
    assert not (tmp_path / "private" / KEYSET_FILE).exists()
    KeyRing(tmp_path / "private", SECRET)
    check(tmp_path / "private", SECRET)
    with pytest.raises(ConfigError, match="SECRET_KEY does not open the key set in PRIVATE_FOLDER"):
        check(tmp_path / "private", "another-secret-key-of-enough-length!!")


def test_a_damaged_file_is_a_clear_error(tmp_path):
    KeyRing(tmp_path / "private", SECRET)
    (tmp_path / "private" / KEYSET_FILE).write_text("garbage")
    with pytest.raises(ConfigError, match="damaged"):
        KeyRing(tmp_path / "private", SECRET)


def test_rotation_is_seen_by_another_process_view(tmp_path):
    first, second = KeyRing(tmp_path / "p", SECRET), KeyRing(tmp_path / "p", SECRET)
    old_kid, old_key = first.active()
    new_kid = second.rotate()
    assert new_kid == "2"
    assert first.active()[0] == "2"
    assert first.get(old_kid).export() == old_key.export()
    assert stat.S_IMODE(os.stat(tmp_path / "p" / KEYSET_FILE).st_mode) == 0o600


def test_retire_removes_an_old_key_but_never_the_active_one(tmp_path):
    ring = KeyRing(tmp_path / "p", SECRET)
    ring.rotate()
    with pytest.raises(ConfigError):
        ring.retire("2")
    with pytest.raises(ConfigError):
        ring.retire("7")
    ring.retire("1")
    assert ring.kids() == ["2"]
    assert ring.get("1") is None
