"""Where encrypted blobs live: one small interface, one class per backend.

Contract of every backend (names are storage names, checked against
``NAME_PATTERN`` before any path or key is built):

- ``put(name, chunks) -> int``: store the bytes atomically and durably and return
  their count. Until it returns, nothing is visible under ``name``; on any error
  (the chunks raising, a full disk) nothing is left behind and the error is
  re-raised (a full disk as ``InsufficientStorage``). It never overwrites.
- ``open(name) -> Blob``: a reader and the blob's length, or ``NotFound``.
- ``delete(name) -> bool``, ``exists(name) -> bool``.
- ``ping()``: raises ``StorageUnavailable`` unless the store is writable.
- ``sweep_temp() -> int``: removes leftovers of writers that died.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


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
    def put(self, name: str, chunks: Iterable[bytes]) -> int: ...

    @abstractmethod
    def open(self, name: str) -> Blob: ...

    @abstractmethod
    def delete(self, name: str) -> bool: ...

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def ping(self) -> None: ...

    @abstractmethod
    def sweep_temp(self) -> int: ...


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError("invalid storage name")
    return name


def from_config(config) -> Storage:
    from .local import LocalStorage
    return LocalStorage(config.storage_dir)
