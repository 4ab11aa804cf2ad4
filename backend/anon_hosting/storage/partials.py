"""Unfinished resumable uploads: one interface, one class per backend (``partial_local``, ``partial_s3``).

Contract. An upload is its *record* (a small JSON object the caller fills: sealed
key and options, verifier, expiry; never a usable key, a name or a passphrase)
plus its *data*: the blob's bytes so far, appended in whole *units* of
``layout.unit`` bytes after a first ``layout.header`` bytes, at most ``layout.max_units`` of
them; ``finish`` adds the blob's last bytes. Ids are checked
against ``NAME_PATTERN``; an upload id is also the storage name its blob gets.

- ``create(id, record)``: store a new record (never overwrites: ``FileExistsError``).
- ``record(id) -> dict`` or ``NotFound``; ``save(id, record)`` replaces it atomically. A backend may
  keep a field of its own in the record (S3: ``s3``, its multipart upload's id), which ``save`` of a
  copy read before that field was set keeps.
- ``writer(id, layout)``: a context manager holding the upload's exclusive lease
  across processes and replicas (``Locked`` while another writer holds it; a dead
  writer's lease lapses). Its ``committed`` is the number of whole units durably
  stored. ``append(data)`` adds whole units (a backend may commit some as they
  come); ``sync()`` makes every appended unit durable and returns ``committed``; ``finish(storage_name, state, last)``
  stores what was appended, tail included, then ``last``, as the blob
  ``storage_name`` with its first state (``Storage.put``'s guarantees) and frees the data
  (``discard``). A finish that a killed process cut short may be done again: what it stored is
  taken up, never a second blob.
- ``committed(id, layout) -> int``: ``committed`` as a writer would see it, without the lease.
- ``stored(id) -> State | None``: the first state of the blob ``finish`` stored under the id (whole
  and readable), even if the caller never marked its record; else None.
- ``discard(id)``: remove what is left of a stored upload's data (none left: nothing to do).
- ``drop(id) -> bool``: the record and any data (an S3 multipart upload is aborted).
- ``ids()``: every id that has a record, for the sweeper.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from . import State


@dataclass(frozen=True)
class Layout:
    header: int  # bytes before the first unit
    unit: int  # bytes per whole unit
    max_units: int  # whole units that may be appended; the rest of the blob comes with ``finish``

    def offset(self, units: int) -> int:
        """The byte position after ``units`` whole units (0 before anything, header included after)."""
        return 0 if units == 0 else self.header + units * self.unit

    def units(self, size: int) -> int:
        """The whole units in ``size`` bytes, up to ``max_units``."""
        return min(self.max_units, max(0, (size - self.header) // self.unit))


class Writer(ABC):
    committed: int

    @abstractmethod
    def append(self, data: bytes) -> None: ...

    @abstractmethod
    def sync(self) -> int: ...

    @abstractmethod
    def finish(self, storage_name: str, state: State, last: bytes) -> None: ...


class Partials(ABC):
    @abstractmethod
    def create(self, upload_id: str, record: dict) -> None: ...

    @abstractmethod
    def record(self, upload_id: str) -> dict: ...

    @abstractmethod
    def save(self, upload_id: str, record: dict) -> None: ...

    @abstractmethod
    def writer(self, upload_id: str, layout: Layout) -> AbstractContextManager[Writer]: ...

    @abstractmethod
    def committed(self, upload_id: str, layout: Layout) -> int: ...

    @abstractmethod
    def stored(self, upload_id: str) -> State | None: ...

    @abstractmethod
    def discard(self, upload_id: str) -> None: ...

    @abstractmethod
    def drop(self, upload_id: str) -> bool: ...

    @abstractmethod
    def ids(self) -> Iterator[str]: ...
