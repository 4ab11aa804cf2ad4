"""Where encrypted blobs and their lifecycle state live: one interface, one class per backend.

Contract of every backend (names are storage names, checked against
``NAME_PATTERN`` before any path or key is built). A file is its *state* (a
small JSON object: expiry, download counters, attempt counters; never a name or
a key) plus its *blob* (the encrypted bytes). The state is the source of truth
for "this file exists".

- ``put(name, chunks, state) -> int``: store the blob and its first state
  atomically and durably; return the blob's byte count. Until it returns,
  nothing is readable under ``name``; on any error (the chunks raising, a full
  disk) nothing is left and the error is re-raised (a full disk as
  ``InsufficientStorage``). It never overwrites.
- ``put_many(items)``: store several ``(name, blob bytes, state)`` as ``put`` would store each,
  possibly in one go (the local backend commits small ones in one transaction, S3 puts several
  at once). On an error, some of them may be stored: the caller deletes every name it passed,
  and none is still on its way when the error is raised.
- ``each(call, items) -> list``: ``[call(item) for item in items]``, possibly several at once (S3 runs
  several requests at once; the local backend one after the other, on the caller's thread). It returns,
  or raises the first error in the items' order, only once no call is running; the calls after a failing
  one may or may not have run.
- ``open(name) -> Blob``: a reader and the blob's length, or ``NotFound``.
- ``read_state(name) -> dict`` or ``NotFound``.
- ``update_state(name, mutate) -> dict``: atomically replace the state with
  ``mutate(state)``, serialised against every other update of that name in any
  process (and, for shared backends, any replica). If ``mutate`` raises, nothing
  is written. Returns the new state, or raises ``NotFound``.
- ``delete(name) -> bool``: state and blob. ``delete_blob(name)``: the blob only
  (the state stays as a tombstone until it expires).
- ``names()``: every name that has a state, for the sweeper's full reconciliation.
- ``expired(now)``: the names a regular sweep must look at: every name whose state
  has ``exp <= now`` and every used-up name (``gone``) that still holds a blob. It
  may yield others (the caller re-reads each state), and it costs what it yields,
  not what is stored. Iterate it to the end: a backend may tidy up as it goes.
- ``ping()`` (raises ``StorageUnavailable`` unless writable), ``sweep_temp() -> int``
  (removes leftovers of dead writers).
- ``usage() -> (files, bytes) | None`` and ``free_bytes() -> int | None``: what is stored
  and the room left, for the metrics; None where a backend cannot tell cheaply (S3 would
  have to list the whole bucket).
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
State = dict
T, R = TypeVar("T"), TypeVar("R")


@dataclass
class Blob:
    stream: BinaryIO
    size: int

    def read(self, n: int) -> bytes:
        return self.stream.read(n)

    def close(self) -> None:
        self.stream.close()


class Storage(ABC):
    @abstractmethod
    def put(self, name: str, chunks: Iterable[bytes], state: State) -> int: ...

    def put_many(self, items: list[tuple[str, bytes, State]]) -> None:
        for name, blob, state in items:
            self.put(name, [blob], state)

    def each(self, call: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [call(item) for item in items]

    @abstractmethod
    def open(self, name: str) -> Blob: ...

    @abstractmethod
    def read_state(self, name: str) -> State: ...

    @abstractmethod
    def update_state(self, name: str, mutate: Callable[[State], State]) -> State: ...

    @abstractmethod
    def delete(self, name: str) -> bool: ...

    @abstractmethod
    def delete_blob(self, name: str) -> bool: ...

    @abstractmethod
    def names(self) -> Iterator[str]: ...

    @abstractmethod
    def expired(self, now: float) -> Iterator[str]: ...

    @abstractmethod
    def ping(self) -> None: ...

    @abstractmethod
    def sweep_temp(self) -> int: ...

    def usage(self) -> tuple[int, int] | None:
        return None

    def free_bytes(self) -> int | None:
        return None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError("invalid storage name")
    return name


def from_config(config) -> Storage:
    """The backend ``config.storage_backend`` names; each is imported only when chosen (boto3 is heavy)."""
    if config.storage_backend == "s3":
        from .s3 import S3Storage
        return S3Storage(config.s3_bucket, config.s3_prefix, config.s3_endpoint_url)
    from .local import LocalStorage
    return LocalStorage(config.storage_dir)


def partials_for(storage: Storage):
    """The store of unfinished resumable uploads beside ``storage`` (``storage.partials``)."""
    from .local import LocalStorage
    if isinstance(storage, LocalStorage):
        from .partial_local import LocalPartials
        return LocalPartials(storage)
    from .partial_s3 import S3Partials
    return S3Partials(storage)
