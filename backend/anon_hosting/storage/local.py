"""Local-disk storage: an SQLite index of states and small blobs (``index``), large blobs as files (``blobfiles``).

Contract (see ``storage.Storage``). A blob up to ``INLINE_MAX`` bytes is stored in
its row, in one fsynced transaction with its state. A larger one is written
whole and durable as the file ``<name>`` first, and only then gets its row: a
row never names a missing blob, and a crash leaves at most a temp file or a
blob file without a row, both removed by ``sweep_temp``.
"""

import io
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import InsufficientStorage, StorageUnavailable
from . import Blob, State, Storage, check_name
from .blobfiles import BlobFiles
from .durable import TEMP_PREFIX
from .index import INDEX, INLINE_MAX, Index

__all__ = ["INDEX", "INLINE_MAX", "TEMP_PREFIX", "LocalStorage"]


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._index = Index(self.root)
        self._files = BlobFiles(self.root)

    def put(self, name: str, chunks: Iterable[bytes], state: State) -> int:
        check_name(name)
        source = _Chunks(chunks)
        try:
            return self._put(name, source, state)
        except OSError as exc:
            if source.raised or isinstance(exc, FileExistsError):  # the caller's error, or the contract's answer
                raise
            raise StorageUnavailable() from exc  # the folder cannot be written: not this request's fault

    def _put(self, name: str, chunks: Iterable[bytes], state: State) -> int:
        head, rest = _head(chunks)
        if rest is None:
            self._index.insert(name, state, head, len(head))
            return len(head)
        size = self._files.write(name, _chain(head, rest))
        try:
            self._index.insert(name, state, None, size)
        except BaseException:
            self._files.remove(name, durably=False)
            raise
        return size

    def put_many(self, items: list[tuple[str, bytes, State]]) -> None:
        """The blobs up to ``INLINE_MAX`` bytes in one transaction (all or none); larger ones one by one."""
        rows = [(check_name(name), state, blob) for name, blob, state in items if len(blob) <= INLINE_MAX]
        for name, blob, state in items:
            if len(blob) > INLINE_MAX:
                self.put(name, [blob], state)
        if not rows:
            return
        try:
            self._index.insert_many(rows)
        except OSError as exc:
            if isinstance(exc, FileExistsError):
                raise
            raise StorageUnavailable() from exc

    def adopt(self, name: str, source: Path, state: State) -> None:
        """Make the durable file ``source`` (in this folder's file system) the blob ``name``, then give it
        its row, as ``put`` would; ``source`` stays for the caller to remove."""
        self._files.link(source, check_name(name))
        try:
            self._index.insert(name, state, None, source.stat().st_size)
        except BaseException:
            self._files.remove(name, durably=False)
            raise

    def open(self, name: str) -> Blob:
        inline, _ = self._index.blob(check_name(name))
        if inline is not None:
            return Blob(io.BytesIO(inline), len(inline))
        try:
            return self._files.open(name)
        except PermissionError as exc:
            raise StorageUnavailable() from exc

    def read_state(self, name: str) -> State:
        return self._index.state(check_name(name))

    def update_state(self, name: str, mutate: Callable[[State], State]) -> State:
        return self._index.update(check_name(name), mutate)

    def delete(self, name: str) -> bool:
        return self._drop(name, blob_only=False)

    def delete_blob(self, name: str) -> bool:
        return self._drop(name, blob_only=True)

    def names(self) -> Iterator[str]:
        return iter(self._index.names())

    def expired(self, now: float) -> Iterator[str]:
        return iter(self._index.expired(now))

    def ping(self) -> None:
        try:
            self._files.probe()
            self._index.ping()
        except (OSError, InsufficientStorage) as exc:
            raise StorageUnavailable() from exc

    def usage(self) -> tuple[int, int]:
        return self._index.usage()

    def free_bytes(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def sweep_temp(self, now: float | None = None) -> int:
        """Temp files of dead writers, and blob files that no row names (a crash before their commit)."""
        return self._files.leftovers(set(self._index.names(files_only=True)), now)

    def _drop(self, name: str, blob_only: bool) -> bool:
        had = self._index.drop(check_name(name), blob_only)
        if had is None:
            return False
        inline, in_file = had
        if in_file:
            self._files.remove(name)
        return not blob_only or inline or in_file


class _Chunks:
    """The caller's chunks, remembering whether they raised: a cut upload is not a storage outage."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks, self.raised = iter(chunks), False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise
        except BaseException:
            self.raised = True
            raise


def _head(chunks: Iterable[bytes]) -> tuple[bytes, Iterator[bytes] | None]:
    """Up to INLINE_MAX bytes of ``chunks``, and the iterator for the rest (None when there is no rest)."""
    it, head = iter(chunks), bytearray()
    for chunk in it:
        head += chunk
        if len(head) > INLINE_MAX:
            return bytes(head), it
    return bytes(head), None


def _chain(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest
