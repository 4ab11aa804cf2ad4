"""The local backend's large blobs: one file ``<name>`` each, beside the index, written whole and durable.

Contract. ``write(name, chunks) -> size`` writes a complete fsynced temp file
(``durable.write_temp``), hard-links it to ``<name>`` (a link never replaces: a
name taken by another file raises FileExistsError; ``link`` does this for any durable file) and
fsyncs the folder, so the name is durable when it returns; on any error nothing of it is left. ``open(name)`` reads one,
``remove(name)`` unlinks one durably, and ``leftovers(named, now)`` removes what
dead writers left: temp files whose lock is free, and blob files that ``named``
(the index's rows) does not hold once they are ``ORPHAN_MIN_AGE`` old.
"""

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import NotFound
from . import NAME_PATTERN, Blob, durable
from .durable import TEMP_PREFIX

ORPHAN_MIN_AGE = 3600  # seconds: a blob file without a row is a crash's leftover once this old


class BlobFiles:
    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        tmp, size = durable.write_temp(self.root, chunks)
        try:
            self.link(tmp, name)
        finally:
            tmp.unlink()
        return size

    def link(self, source: Path, name: str) -> None:
        """Hard-link the durable file ``source`` (in this file system) to ``<name>``, durably; never replaces.
        A ``<name>`` that is already ``source`` (linked by a process killed before it could index it) counts."""
        path = self.root / name
        try:
            os.link(source, path)
        except FileExistsError:
            if not os.path.samefile(source, path):
                raise
        try:
            durable.fsync_folder(self.root)
        except BaseException:
            path.unlink()
            raise

    def open(self, name: str) -> Blob:
        try:
            stream = open(self.root / name, "rb")  # noqa: SIM115 - the Blob closes it
        except FileNotFoundError:  # deleted since its row was read
            raise NotFound() from None
        return Blob(stream, os.fstat(stream.fileno()).st_size)

    def remove(self, name: str, durably: bool = True) -> None:
        """Unlink a blob file; ``durably`` fsyncs the folder too (a cleanup after a failure need not)."""
        (self.root / name).unlink(missing_ok=True)
        if durably:
            durable.fsync_folder(self.root)

    def probe(self) -> None:
        """Raises OSError (or InsufficientStorage) unless a small file can be written durably here."""
        durable.write_temp(self.root, [b"ok"])[0].unlink()

    def leftovers(self, named: set[str], now: float | None = None) -> int:
        """Remove dead writers' temp files and the blob files no row names; return how many."""
        now = time.time() if now is None else now
        removed = sum(durable.sweep_temp_file(path, now) for path in self.root.glob(TEMP_PREFIX + "*"))
        for path in self.root.iterdir():
            if NAME_PATTERN.fullmatch(path.name) and path.name not in named:
                try:
                    if path.stat().st_mtime < now - ORPHAN_MIN_AGE:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed
