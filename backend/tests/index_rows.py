"""The local index as its rows, for tests that prove a request changed nothing.

The index's files change without a request: its checkpoint thread copies earlier commits from
``index.db-wal`` into ``index.db`` within a second (storage/checkpoint.py). Its rows do not.
"""

import hashlib
import sqlite3
from pathlib import Path

from anon_hosting.storage.index import INDEX

INDEX_FILES = (INDEX, INDEX + "-wal", INDEX + "-shm")


def rows(index: Path) -> bytes:
    """A digest of every row of ``index`` (an ``index.db``), read through SQLite, WAL included."""
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        found = db.execute("SELECT * FROM files ORDER BY name").fetchall()
    finally:
        db.close()
    return hashlib.sha256(repr(found).encode()).hexdigest().encode()
