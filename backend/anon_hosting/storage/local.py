"""Local-disk storage: ``<name>`` (blob), ``<name>.state`` (JSON) and ``<name>.lock`` per file.

Contract (see ``storage.Storage``). Every file this class writes goes through a
temp file ``.tmp-<random>`` created with O_EXCL and mode 0600 in the same
folder, flocked while it is written, fsynced, then hard-linked into place (a
link never replaces: blobs and new states) or renamed over the old one (state
updates), and the folder is fsynced; only then does the call return. State
updates hold an flock on ``<name>.lock``, which serialises them across threads
and processes on this host. A temp file whose lock is free belonged to a dead
writer, so ``sweep_temp`` removes it, safely while others upload.
"""

import errno
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from . import NAME_PATTERN, Blob, State, Storage, check_name

TEMP_PREFIX = ".tmp-"
STATE_SUFFIX, LOCK_SUFFIX = ".state", ".lock"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
WRITEBACK_STEP = 8 << 20  # bytes between two background flushes of a blob being written
_SWEEP_MIN_AGE = 10  # seconds: covers the instant between O_EXCL create and flock


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put(self, name: str, chunks: Iterable[bytes], state: State) -> int:
        # The bytes first, into a temp file: a writer killed while receiving them (the long part) leaves
        # only that temp file, which sweep_temp removes. Then the state, then the two names, state first.
        # Each file was fsynced on its own; one fsync of the folder then makes both names durable at once
        # (it was one per name: a small upload's third journal commit of four).
        blob, state_path = self._paths(name)
        tmp, size = self._write_temp(chunks)
        try:
            self._link_temp([_encode(state)], state_path)
            try:
                os.link(tmp, blob)
            except BaseException:
                state_path.unlink(missing_ok=True)
                raise
        finally:
            tmp.unlink()
        self._fsync_root()
        return size

    def open(self, name: str) -> Blob:
        try:
            stream = open(self._paths(name)[0], "rb")  # noqa: SIM115 - the Blob closes it
        except FileNotFoundError:
            raise NotFound() from None
        return Blob(stream, os.fstat(stream.fileno()).st_size)

    def read_state(self, name: str) -> State:
        try:
            return json.loads(self._paths(name)[1].read_bytes())
        except FileNotFoundError:
            raise NotFound() from None

    def update_state(self, name: str, mutate: Callable[[State], State]) -> State:
        state_path = self._paths(name)[1]
        with self._locked(name):
            new = mutate(self.read_state(name))
            tmp, _ = self._write_temp([_encode(new)])
            os.replace(tmp, state_path)
            self._fsync_root()
        return new

    def delete(self, name: str) -> bool:
        blob, state_path = self._paths(name)
        with self._locked(name):
            existed = _unlink(state_path)
            _unlink(blob)
        (self.root / (name + LOCK_SUFFIX)).unlink(missing_ok=True)
        self._fsync_root()
        return existed

    def delete_blob(self, name: str) -> bool:
        removed = _unlink(self._paths(name)[0])
        self._fsync_root()
        return removed

    def names(self) -> Iterator[str]:
        for path in self.root.glob("*" + STATE_SUFFIX):
            name = path.name.removesuffix(STATE_SUFFIX)
            if NAME_PATTERN.fullmatch(name):
                yield name

    def exists(self, name: str) -> bool:
        return self._paths(name)[0].is_file()

    def ping(self) -> None:
        try:
            self._write_temp([b"ok"])[0].unlink()
        except (OSError, InsufficientStorage) as exc:
            raise StorageUnavailable() from exc

    def sweep_temp(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        removed = 0
        for path in self.root.glob(TEMP_PREFIX + "*"):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                if os.fstat(fd).st_mtime > now - _SWEEP_MIN_AGE:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a live writer holds it
                path.unlink(missing_ok=True)
                removed += 1
            except BlockingIOError:
                continue
            finally:
                os.close(fd)
        return removed

    # -- helpers ---------------------------------------------------------------

    def _paths(self, name: str) -> tuple[Path, Path]:
        blob = self.root / check_name(name)
        return blob, blob.with_name(name + STATE_SUFFIX)

    def _link_temp(self, chunks: Iterable[bytes], final: Path) -> None:
        """Write a complete fsynced temp file and link it to ``final`` (never replacing); the folder is not fsynced."""
        tmp, _ = self._write_temp(chunks)
        try:
            os.link(tmp, final)
        finally:
            tmp.unlink()

    def _write_temp(self, chunks: Iterable[bytes]) -> tuple[Path, int]:
        """A complete, fsynced temp file; removed again if anything fails."""
        tmp = self.root / f"{TEMP_PREFIX}{secrets.token_hex(16)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                flusher, size = _Flusher(f.fileno()), 0
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
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise InsufficientStorage() from exc
            raise
        return tmp, size

    @contextmanager
    def _locked(self, name: str):
        fd = os.open(self.root / (name + LOCK_SUFFIX), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _fsync_root(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _Flusher:
    """Flushes a file being written in the background, one ``fdatasync`` at a time, each WRITEBACK_STEP bytes.

    The final fsync, the one a 201 waits for, then has only the tail left to write: on the dev machine's disk a
    64 MiB blob's single fsync took 115 ms of a 280 ms upload. It changes no guarantee: that final fsync still
    runs. An error in a background flush is raised by ``check`` (an fsync error is reported only once per file,
    so it must not be dropped here and missed by the final fsync).
    """

    def __init__(self, fd: int):
        self._fd, self._flushed, self._thread = fd, 0, None
        self._error: OSError | None = None

    def wrote(self, size: int) -> None:
        if size - self._flushed < WRITEBACK_STEP or (self._thread is not None and self._thread.is_alive()):
            return
        self.check()
        self._flushed = size
        self._thread = threading.Thread(target=self._flush, name="blob-flush", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def _flush(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._error = exc


def _encode(state: State) -> bytes:
    return json.dumps(state, separators=(",", ":"), sort_keys=True).encode()


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
