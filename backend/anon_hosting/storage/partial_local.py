"""Unfinished uploads on local disk: ``.uploads/<id>.json`` (record) and ``.uploads/<id>.part`` (data).

Contract (see ``storage.partials``). A record is replaced by a fsynced temp file
renamed over it. The data file is append-only and its own lease: a writer holds
an flock on it, which the kernel releases when the writer dies, so a killed
worker's upload is free again at once, for every process on this host and every
container sharing the volume. ``committed`` is the whole units the file holds;
a torn tail left by a dead writer is cut off when the next writer opens it.
``sync`` fdatasyncs before a PATCH answers. Background flushes every
``durable.WRITEBACK_STEP`` bytes keep that final sync short. ``finish`` hard-links
the data file as the blob (``LocalStorage.adopt``) and then unlinks it; the
blob's index row marks it ``stored``.
"""

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InsufficientStorage, Locked, NotFound
from . import NAME_PATTERN, State, check_name, durable
from .local import LocalStorage
from .partials import Layout, Partials, Writer

FOLDER = ".uploads"
DROP_WAIT = 5.0  # seconds a drop waits for a writer that is finishing its request
_POLL = 0.05


class LocalPartials(Partials):
    def __init__(self, storage: LocalStorage):
        self.storage = storage
        self.folder = storage.root / FOLDER

    def create(self, upload_id: str, record: dict) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        os.close(os.open(self._part(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            self.save(upload_id, record)
        except BaseException:
            self._part(upload_id).unlink(missing_ok=True)
            raise

    def record(self, upload_id: str) -> dict:
        try:
            return json.loads(self._record(upload_id).read_bytes())
        except FileNotFoundError:
            raise NotFound() from None

    def save(self, upload_id: str, record: dict) -> None:
        tmp, _ = durable.write_temp(self.folder, [json.dumps(record, separators=(",", ":")).encode()])
        os.replace(tmp, self._record(upload_id))
        durable.fsync_folder(self.folder)

    @contextmanager
    def writer(self, upload_id: str, layout: Layout) -> Iterator[Writer]:
        fd = self._lock(upload_id, wait=0)
        try:
            yield _LocalWriter(self, upload_id, fd, layout)
        finally:
            os.close(fd)

    def committed(self, upload_id: str, layout: Layout) -> int:
        try:
            return layout.units(self._part(upload_id).stat().st_size)
        except FileNotFoundError:
            raise NotFound() from None

    def stored(self, upload_id: str) -> State | None:
        try:
            return self.storage.read_state(upload_id)  # a row names a blob file already durable
        except NotFound:
            return None

    def discard(self, upload_id: str) -> None:
        self._part(upload_id).unlink(missing_ok=True)

    def drop(self, upload_id: str, wait: float = DROP_WAIT) -> bool:
        try:
            fd = self._lock(upload_id, wait)
        except NotFound:  # finished: only the record is left
            fd = None
        try:
            self._part(upload_id).unlink(missing_ok=True)
            try:
                self._record(upload_id).unlink()
            except FileNotFoundError:
                return fd is not None
            durable.fsync_folder(self.folder)
            return True
        finally:
            if fd is not None:
                os.close(fd)

    def ids(self) -> Iterator[str]:
        if not self.folder.is_dir():
            return
        now = time.time()
        for path in self.folder.iterdir():
            if path.name.startswith(durable.TEMP_PREFIX):
                durable.sweep_temp_file(path, now)
            elif path.suffix == ".json" and NAME_PATTERN.fullmatch(path.stem):
                yield path.stem

    def _lock(self, upload_id: str, wait: float) -> int:
        try:
            fd = os.open(self._part(upload_id), os.O_RDWR)
        except FileNotFoundError:
            raise NotFound() from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise Locked() from None
                time.sleep(_POLL)

    def _part(self, upload_id: str) -> Path:
        return self.folder / f"{check_name(upload_id)}.part"

    def _record(self, upload_id: str) -> Path:
        return self.folder / f"{check_name(upload_id)}.json"


class _LocalWriter(Writer):

    def __init__(self, partials: LocalPartials, upload_id: str, fd: int, layout: Layout):
        self._partials, self._id, self._fd, self._layout = partials, upload_id, fd, layout
        self.committed = layout.units(os.fstat(fd).st_size)
        self._size = layout.offset(self.committed)
        os.ftruncate(fd, self._size)  # a dead writer's torn tail
        os.lseek(fd, self._size, os.SEEK_SET)
        self._flusher = durable.Flusher(fd)

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise _storage_error(exc) from exc
        self._size += len(data)
        self._flusher.wrote(self._size)

    def sync(self) -> int:
        self._flusher.join()
        try:
            self._flusher.check()
            os.fdatasync(self._fd)
            durable.drop_cached(self._fd, 0)
        except OSError as exc:
            raise _storage_error(exc) from exc
        self.committed = self._layout.units(self._size)
        return self.committed

    def finish(self, storage_name: str, state: State, last: bytes) -> None:
        self.append(last)
        self.sync()
        self._partials.storage.adopt(storage_name, self._partials._part(self._id), state)  # noqa: SLF001
        self._partials.discard(self._id)


def _storage_error(exc: OSError) -> Exception:
    return InsufficientStorage() if exc.errno in durable.FULL_ERRNOS else exc
