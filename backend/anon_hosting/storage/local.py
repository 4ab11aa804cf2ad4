"""Local-disk storage: one file per blob in ENCRYPTED_FILE_STORAGE.

Contract (see ``storage.Storage``): a blob is written to ``.tmp-<random>``
created with O_EXCL and mode 0600 in the same folder, flocked while it is being
written, fsynced, hard-linked to its final name (a link never replaces an
existing file) and the folder fsynced; only then does ``put`` return. A temp
file whose lock is free belonged to a dead writer, so ``sweep_temp`` removes
it, which is safe while other processes are uploading.
"""

import errno
import fcntl
import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from . import Blob, Storage, check_name

TEMP_PREFIX = ".tmp-"
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SWEEP_MIN_AGE = 10  # seconds: covers the instant between O_EXCL create and flock


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def put(self, name: str, chunks: Iterable[bytes]) -> int:
        final = self.root / check_name(name)
        tmp = None
        try:
            tmp, fd = self._create_temp()
            size = 0
            with os.fdopen(fd, "wb") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, final)
            self._fsync_root()
        except OSError as exc:
            if exc.errno in _FULL:
                raise InsufficientStorage() from exc
            raise
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        return size

    def open(self, name: str) -> Blob:
        try:
            stream = open(self.root / check_name(name), "rb")  # noqa: SIM115 - Blob closes it
        except FileNotFoundError:
            raise NotFound() from None
        return Blob(stream, os.fstat(stream.fileno()).st_size)

    def delete(self, name: str) -> bool:
        try:
            (self.root / check_name(name)).unlink()
        except FileNotFoundError:
            return False
        self._fsync_root()
        return True

    def exists(self, name: str) -> bool:
        return (self.root / check_name(name)).is_file()

    def ping(self) -> None:
        try:
            tmp, fd = self._create_temp()
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                tmp.unlink()
        except OSError as exc:
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

    def _create_temp(self) -> tuple[Path, int]:
        tmp = self.root / f"{TEMP_PREFIX}{secrets.token_hex(16)}"
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def _fsync_root(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
