"""Durable files in one folder: temp files written whole, fsynced and flocked; dead writers' temp files swept.

Contract: ``write_temp(folder, chunks) -> (path, size)`` writes ``chunks`` into a
new ``.tmp-<random>`` file (O_EXCL, mode 0600), holding an flock on it while it
is written, flushes it in the background every WRITEBACK_STEP bytes, fsyncs it,
and returns it with none of it left in the page cache; on any error the temp file
is removed and the error re-raised (a full disk as ``InsufficientStorage``). The
caller links it into place and unlinks the temp name. ``fsync_folder(folder)`` makes names in it durable.
``sweep_temp_file(path, now) -> 0 | 1`` removes a temp file whose lock is free
(its writer is dead) once it is SWEEP_MIN_AGE old, safely while others write.
"""

import errno
import fcntl
import os
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path

from ..errors import InsufficientStorage

TEMP_PREFIX = ".tmp-"
WRITEBACK_STEP = 8 << 20  # bytes between two background flushes of a file being written
SWEEP_MIN_AGE = 10  # seconds: covers the instant between O_EXCL create and flock
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_temp(folder: Path, chunks: Iterable[bytes]) -> tuple[Path, int]:
    tmp = folder / f"{TEMP_PREFIX}{secrets.token_hex(16)}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            flusher, size = Flusher(f.fileno()), 0
            try:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                    flusher.wrote(size)
                f.flush()
            finally:
                flusher.join()  # never let a flush outlive the file descriptor
            flusher.check()
            os.fsync(f.fileno())
            drop_cached(f.fileno(), 0)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            raise InsufficientStorage() from exc
        raise
    return tmp, size


def drop_cached(fd: int, length: int) -> None:
    """Drop a file's first ``length`` bytes (0: all of it) from the page cache, once they are on disk.

    An upload is rarely read back at once: its pages would only push out the ones downloads are served
    from, and fresh page-cache pages cost more CPU to fill than the ones just freed (docs/performance.md).
    """
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, length, os.POSIX_FADV_DONTNEED)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temp_file(path: Path, now: float) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        if os.fstat(fd).st_mtime > now - SWEEP_MIN_AGE:
            return 0
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a live writer holds it
        path.unlink(missing_ok=True)
        return 1
    except BlockingIOError:
        return 0
    finally:
        os.close(fd)


class Flusher:
    """Flushes a file being written in the background, one ``fdatasync`` at a time, each WRITEBACK_STEP bytes,
    and drops what it flushed from the page cache.

    The final fsync, the one a 201 waits for, then has only the tail left to write, instead of the whole
    blob (docs/performance.md). It changes no guarantee: that final fsync still runs. An error in a
    background flush is raised by ``check`` (an fsync error is reported only once per file, so it must not
    be dropped here and missed by the final fsync).
    """

    def __init__(self, fd: int):
        self._fd, self._flushed, self._thread = fd, 0, None
        self._error: OSError | None = None

    def wrote(self, size: int) -> None:
        if size - self._flushed < WRITEBACK_STEP or (self._thread is not None and self._thread.is_alive()):
            return
        self.check()
        self._flushed = size
        self._thread = threading.Thread(target=self._flush, args=(size,), name="blob-flush", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def _flush(self, size: int) -> None:
        try:
            os.fdatasync(self._fd)
            drop_cached(self._fd, size)
        except OSError as exc:
            self._error = exc
