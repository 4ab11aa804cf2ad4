"""What a storage test can see of a store beyond the interface: its objects, and writers' leftovers.

``entries(store)``: every blob and state it holds, by name relative to its folder
or prefix. A local store's rows are listed as S3 would hold them (``<name>.state``,
and ``<name>`` for a blob kept in its row) beside the files in its folder. Index
files and S3 expiry markers are left out: they are implementation details.
``unfinished(store)``: local temp files, or S3 multipart uploads not completed.
``reopen(store)``: an independent store on the same data, as another process or
replica has (a new boto3 client; never share one across a fork).
``resident_pages(path)``: how many of a file's pages the page cache holds;
``require_page_cache(folder)`` skips a test where written pages cannot be dropped.
"""

import ctypes
import json
import mmap
import os
import sqlite3

import pytest

from anon_hosting.errors import NotFound
from anon_hosting.storage.local import INDEX, TEMP_PREFIX, LocalStorage
from anon_hosting.storage.s3 import S3Storage
from anon_hosting.storage.s3_expiry import FOLDER as EXPIRY_FOLDER

STATE = {"v": 1, "exp": 2_000_000_000}


def files(*names: str) -> list[str]:
    return sorted(list(names) + [n + ".state" for n in names])


def entries(store) -> list[str]:
    if isinstance(store, LocalStorage):
        return sorted(local_entries(store.root))
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.prefix)
    keys = (obj["Key"][len(store.prefix):] for page in pages for obj in page.get("Contents", []))
    return sorted(key for key in keys if not key.startswith(EXPIRY_FOLDER))


def local_sql(root, statement: str, *params) -> list[tuple]:
    """One statement on a local index, by SQLite directly: as another process, or a damaged disk, would."""
    db = sqlite3.connect(root / INDEX, isolation_level=None)
    try:
        return db.execute(statement, params).fetchall()
    finally:
        db.close()


def local_rows(root) -> set[str]:
    """A local index's rows: ``<name>.state`` for each, and ``<name>`` for each blob kept in its row."""
    if not (root / INDEX).exists():
        return set()
    rows = local_sql(root, "SELECT name, blob IS NOT NULL FROM files")
    return {n + ".state" for n, _ in rows} | {n for n, inline in rows if inline}


def local_state(root, name: str) -> dict:
    [(state,)] = local_sql(root, "SELECT state FROM files WHERE name = ?", name)
    return json.loads(state)


def local_blob(root, name: str) -> bytes:
    [(inline,)] = local_sql(root, "SELECT blob FROM files WHERE name = ?", name)
    return inline if inline is not None else (root / name).read_bytes()


def replace_local_blob(root, name: str, data: bytes) -> None:
    """Damage a blob where it lies: its file, or its row."""
    if (root / name).exists():
        (root / name).write_bytes(data)
    else:
        local_sql(root, "UPDATE files SET blob = ? WHERE name = ?", data, name)


def local_entries(root) -> set[str]:
    """A local folder as S3 would hold it: its rows (``local_rows``) and its files, the index files left out."""
    return local_rows(root) | {p for p in os.listdir(root) if not p.startswith(INDEX)}


def unfinished(store) -> list[str]:
    if isinstance(store, LocalStorage):
        return [p for p in os.listdir(store.root) if p.startswith(TEMP_PREFIX)]
    answer = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def reopen(store):
    if isinstance(store, LocalStorage):
        return LocalStorage(store.root)
    again = S3Storage(store.bucket, store.prefix, client=store.server.client(), part_size=store.part_size)
    again.server = store.server
    return again


def read_all(blob) -> bytes:
    parts = []
    while piece := blob.read(1 << 20):
        parts.append(piece)
    blob.close()
    return b"".join(parts)


def has_blob(store, name: str) -> bool:
    """Whether the store has a blob to open under ``name`` (a tombstone has none)."""
    try:
        store.open(name).close()
    except NotFound:
        return False
    return True


def resident_pages(path) -> int:
    """mincore over a private mapping of the file: its untouched pages are the page cache's."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
    size, page = os.path.getsize(path), mmap.PAGESIZE
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        anchor = ctypes.c_char.from_buffer(mapped)
        vector = ctypes.create_string_buffer((size + page - 1) // page)
        failed = libc.mincore(ctypes.addressof(anchor), size, vector)
        del anchor  # the mapping cannot close while a buffer of it is exported
    assert failed == 0, os.strerror(ctypes.get_errno())
    return sum(byte & 1 for byte in vector.raw)


def require_page_cache(folder) -> None:
    """Skip unless ``folder`` keeps what is written in a page cache that can be dropped (tmpfs cannot)."""
    probe = folder / ".page-cache-probe"
    with open(probe, "wb") as f:
        f.write(b"\1" * (1 << 20))
        os.fsync(f.fileno())
        seen = resident_pages(probe) > 0
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        dropped = resident_pages(probe) == 0
    probe.unlink()
    if not (seen and dropped):
        pytest.skip(f"{folder} keeps no page cache that can be dropped")
