"""storage/durable.py: whole fsynced temp files, their clean-up on any failure, and the sweep of dead writers'."""

import errno
import fcntl
import os
import stat
import time

import pytest

from anon_hosting.errors import InsufficientStorage
from anon_hosting.storage import durable

from .stores import require_page_cache, resident_pages


def test_a_temp_file_is_complete_mode_0600_and_unlocked_once_written(tmp_path):
    path, size = durable.write_temp(tmp_path, [b"abc", b"", b"def"])
    assert (path.read_bytes(), size) == (b"abcdef", 6)
    assert path.name.startswith(durable.TEMP_PREFIX) and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # no writer holds it any more


@pytest.mark.parametrize("error", [ConnectionError, GeneratorExit])
def test_a_failing_source_leaves_no_temp_file(tmp_path, error):
    def source():
        yield b"x" * 1000
        raise error("client went away")

    with pytest.raises(error):
        durable.write_temp(tmp_path, source())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("code", "raised"), [(errno.EIO, OSError), (errno.ENOSPC, InsufficientStorage)])
def test_a_failed_background_flush_fails_the_write_and_leaves_nothing(tmp_path, monkeypatch, code, raised):
    # An fsync error is reported once per file: one that a background flush saw must not be lost.
    def failing(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(raised):
        durable.write_temp(tmp_path, (b"\0" * (1 << 20) for _ in range(3 * durable.WRITEBACK_STEP >> 20)))
    assert os.listdir(tmp_path) == []


def test_the_sweep_removes_only_old_temp_files_whose_lock_is_free(tmp_path):
    now = time.time()
    dead, young, live = (tmp_path / f"{durable.TEMP_PREFIX}{n}" for n in ("dead", "young", "live"))
    for path in (dead, young, live):
        path.write_bytes(b"x")
    for path in (dead, live):
        os.utime(path, (now - 3600, now - 3600))
    with open(live, "rb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)
        assert [durable.sweep_temp_file(p, now) for p in (dead, young, live)] == [1, 0, 0]
    assert sorted(os.listdir(tmp_path)) == sorted([young.name, live.name])
    assert durable.sweep_temp_file(dead, now) == 0  # already gone


def test_a_written_file_leaves_the_page_cache_once_durable(tmp_path):
    # Uploads are rarely read back at once: their pages must not push out the ones downloads use.
    require_page_cache(tmp_path)
    chunks = 3 * durable.WRITEBACK_STEP >> 20
    path, size = durable.write_temp(tmp_path, (b"\1" * (1 << 20) for _ in range(chunks)))
    assert size == chunks << 20 and resident_pages(path) == 0
