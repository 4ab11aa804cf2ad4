"""The local backend's index: one SQLite file holding every state, and every blob up to ``INLINE_MAX`` bytes.

Contract. ``index.db`` is SQLite in WAL mode with ``synchronous=FULL``: a call that
changes it returns only once its commit is fsynced. One row per file::

    files(name TEXT PRIMARY KEY, state TEXT NOT NULL, blob BLOB, in_file INTEGER NOT NULL, size INTEGER)

``blob`` holds a small blob's bytes; ``in_file`` = 1 says the blob is a file beside the
index (``blobfiles``); a tombstone has neither. ``size`` is the blob's byte count (NULL for
a tombstone), and an SQL index of it answers ``usage()`` without reading a row (an index made
without the column gets it, filled in, when it is opened). Two SQL indexes answer the sweep: states
by expiry, and used-up files still holding a blob. Every change is one write transaction,
serialised across threads and processes; the changes a process's threads ask for while
one commits share the next one (``group_commit``), each returning once its own is
committed. Commits never checkpoint the WAL: the process's checkpoint thread does, within a
second (``checkpoint``). An ``Index`` serves the process that opened it, one connection per thread.
"""

import errno
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from . import State, checkpoint
from .group_commit import GroupCommit, Op

INDEX = "index.db"
LOCK = INDEX + ".lock"  # writers queue on its flock
INLINE_MAX = 64 << 10  # bytes: a blob this size or smaller lives in its row
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, state TEXT NOT NULL, blob BLOB,"
    " in_file INTEGER NOT NULL, size INTEGER) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS files_by_expiry ON files (json_extract(state, '$.exp'))",
    "CREATE INDEX IF NOT EXISTS files_used_up ON files (name)"
    " WHERE json_extract(state, '$.gone') IS NOT NULL AND (blob IS NOT NULL OR in_file = 1)",
)
_EXPIRED = ("SELECT name FROM files WHERE json_extract(state, '$.exp') <= ?"  # each half as its index says
            " UNION SELECT name FROM files"
            " WHERE json_extract(state, '$.gone') IS NOT NULL AND (blob IS NOT NULL OR in_file = 1)")

_SIZES = "CREATE INDEX IF NOT EXISTS files_by_size ON files (size)"  # after _add_sizes: an old table lacks size
_USAGE = "SELECT count(size), total(size) FROM files"  # a tombstone's size is NULL; answered from files_by_size


class Index:
    def __init__(self, root: Path):
        self.root = root
        self._pid = os.getpid()
        self._local = threading.local()
        self._write = GroupCommit(self._commit).run  # change(db) -> its result, once committed (see _commit)
        os.close(os.open(root / INDEX, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal and -shm its mode
        for statement in _SCHEMA:
            self._write(lambda db, statement=statement: db.execute(statement))
        self._write(self._add_sizes)
        self._write(lambda db: db.execute(_SIZES))
        self._close_this_thread()  # a store made before a fork carries no connection into the child

    def insert(self, name: str, state: State, blob: bytes | None, size: int) -> None:
        """A new row; ``blob`` None means the blob is a file. Raises FileExistsError for a taken name."""
        row = (name, _encode(state), blob, int(blob is None), size)
        self._write(lambda db: db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?)", row))

    def insert_many(self, rows: list[tuple[str, State, bytes]]) -> None:
        """New rows with their blobs, in one statement: all of them or, for a taken name, none (FileExistsError)."""
        values = [value for name, state, blob in rows for value in (name, _encode(state), blob, 0, len(blob))]
        placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(rows))
        statement = f"INSERT INTO files VALUES {placeholders}"  # noqa: S608 - placeholders only  # nosec B608
        self._write(lambda db: db.execute(statement, values))

    def blob(self, name: str) -> tuple[bytes | None, bool]:
        """(the blob's bytes when in its row, whether it is a file); NotFound for no row or a tombstone."""
        row = self._read("SELECT blob, in_file FROM files WHERE name = ?", name)
        if row is None or (row[0] is None and not row[1]):
            raise NotFound()
        return row[0], bool(row[1])

    def state(self, name: str) -> State:
        row = self._read("SELECT state FROM files WHERE name = ?", name)
        if row is None:
            raise NotFound()
        return json.loads(row[0])

    def update(self, name: str, mutate: Callable[[State], State]) -> State:
        def update(db: sqlite3.Connection) -> State:
            row = db.execute("SELECT state FROM files WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound()
            new = mutate(json.loads(row[0]))
            db.execute("UPDATE files SET state = ? WHERE name = ?", (_encode(new), name))
            return new

        return self._write(update)

    def drop(self, name: str, blob_only: bool) -> tuple[bool, bool] | None:
        """Delete the row, or only its blob; (it had a blob in its row, its blob was a file), or None for no row."""
        statement = ("UPDATE files SET blob = NULL, in_file = 0, size = NULL WHERE name = ?" if blob_only
                     else "DELETE FROM files WHERE name = ?")

        def drop(db: sqlite3.Connection) -> tuple | None:
            row = db.execute("SELECT blob IS NOT NULL, in_file FROM files WHERE name = ?", (name,)).fetchone()
            db.execute(statement, (name,))
            return row

        row = self._write(drop)
        return None if row is None else (bool(row[0]), bool(row[1]))

    def names(self, files_only: bool = False) -> list[str]:
        """Every row's name, or only those whose blob is a file."""
        query = "SELECT name FROM files WHERE in_file = 1" if files_only else "SELECT name FROM files"
        with self._sql() as db:
            return [name for (name,) in db.execute(query)]

    def expired(self, now: float) -> list[str]:
        """The rows whose state expired by ``now``, and the used-up ones still holding a blob, through the indexes."""
        with self._sql() as db:
            return [name for (name,) in db.execute(_EXPIRED, (now,))]

    def usage(self) -> tuple[int, int]:
        """(files holding a blob, their blobs' bytes), from the SQL index of sizes alone."""
        with self._sql() as db:
            files, size = db.execute(_USAGE).fetchone()
        return files, int(size)

    def ping(self) -> None:
        """Raises StorageUnavailable (or InsufficientStorage) unless a write transaction commits."""
        self._write(lambda db: None)

    def _add_sizes(self, db: sqlite3.Connection) -> None:
        """Give an index made before the ``size`` column that column, with each blob's byte count."""
        if "size" in {row[1] for row in db.execute("PRAGMA table_info(files)")}:
            return
        db.execute("ALTER TABLE files ADD COLUMN size INTEGER")
        db.execute("UPDATE files SET size = length(blob) WHERE blob IS NOT NULL")
        for (name,) in db.execute("SELECT name FROM files WHERE in_file = 1").fetchall():
            try:
                size = (self.root / name).stat().st_size
            except OSError:  # a missing blob file: its row counts no bytes
                continue
            db.execute("UPDATE files SET size = ? WHERE name = ?", (size, name))

    def _read(self, query: str, name: str) -> tuple | None:
        with self._sql() as db:
            return db.execute(query, (name,)).fetchone()

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use (SQLite connections are not shared across threads)."""
        if os.getpid() != self._pid:
            raise RuntimeError("an Index is used only in the process that opened it; open another after a fork")
        db = getattr(self._local, "db", None)
        if db is None:
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._local.lock = os.fdopen(fd, "r+b", buffering=0)  # closed with the thread's other locals
            # Under the writers' lock: SQLite answers a second process switching a new index to WAL at the
            # same moment "database is locked" at once, without waiting (workers boot together).
            fcntl.flock(self._local.lock, fcntl.LOCK_EX)
            try:
                db = sqlite3.connect(self.root / INDEX, timeout=60, isolation_level=None)
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
                db.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run on their own thread (checkpoint.py)
            finally:
                fcntl.flock(self._local.lock, fcntl.LOCK_UN)
            self._local.db = db
        return db

    def _close_this_thread(self) -> None:
        db, self._local.db = getattr(self._local, "db", None), None
        if db is not None:
            db.close()
            self._local.lock.close()

    @contextmanager
    def _sql(self):
        """This thread's connection, with SQLite's errors as the storage errors a client may see."""
        try:
            yield self._db()
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise InsufficientStorage() from exc
            raise StorageUnavailable() from exc

    def _commit(self, ops: list[Op]) -> None:
        """One write transaction (committed and fsynced) for a group of changes, in their order.

        A change reads what it needs and then changes the index with at most one statement, its last: an
        error it raises (before that statement, or SQLite refusing it) then leaves nothing of it behind, and
        the other changes of its group are committed. Any other SQLite error rolls the whole group back.

        Writers first queue on an flock of ``index.db.lock`` (each thread has its own descriptor), which wakes
        the next one as soon as the holder is done: SQLite's own wait for its write lock is sleep-and-retry
        (1, 2, 5 ... 100 ms), which gives small uploads a long p99 tail (docs/performance.md).
        """
        with self._sql() as db:
            fcntl.flock(self._local.lock, fcntl.LOCK_EX)
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    for op in ops:
                        _apply(op, db)
                    db.execute("COMMIT")
                finally:
                    if db.in_transaction:  # an error, or a COMMIT that failed (SQLite may have rolled back itself)
                        self._rollback(db)
            finally:
                fcntl.flock(self._local.lock, fcntl.LOCK_UN)
        checkpoint.due(self)

    def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database, as far as readers allow (PASSIVE: it neither
        waits for nor blocks a writer). Another process checkpointing at the same moment makes it a no-op."""
        try:
            with self._sql() as db:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except StorageUnavailable:
            pass  # busy, or a failing disk that the next write reports to its client; the next round tries again

    def _rollback(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            self._local.db = None  # a connection in an unknown state is not used again


def _apply(op: Op, db: sqlite3.Connection) -> None:
    """Run one change of a group: its own refusal is its own; any other SQLite error fails the whole group."""
    try:
        op.result = op.fn(db)
    except sqlite3.IntegrityError:  # a name already taken: put never overwrites (SQLite undid the statement)
        op.error = FileExistsError(errno.EEXIST, "storage name taken")
    except sqlite3.Error:  # a full disk, an I/O error: SQLite may have rolled the whole transaction back
        raise
    except Exception as exc:  # noqa: BLE001 - the change's own refusal (NotFound, a lifecycle error)
        op.error = exc


def _encode(state: State) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)
