"""Local-disk storage: every state, and every blob up to ``INLINE_MAX`` bytes, in one SQLite file.

Contract (see ``storage.Storage``). The folder holds ``index.db`` (SQLite in WAL
mode, ``synchronous=FULL``: a call that changes it returns only once its commit
is fsynced) with one row per file::

    files(name TEXT PRIMARY KEY, state TEXT NOT NULL, blob BLOB, in_file INTEGER NOT NULL)

``blob`` holds a small blob's bytes; a larger one is the file ``<name>`` beside
the index (``in_file`` = 1), and a tombstone has neither. A large blob is a
complete fsynced temp file (``durable.write_temp``), hard-linked to ``<name>``
(a link never replaces), the folder fsynced; only then is its row committed. So
a row never names a missing blob, and a crash leaves at most a temp file (its
lock is free, so ``sweep_temp`` removes it) or a blob file without a row
(removed by ``sweep_temp`` once it is an hour old). Every change is a SQLite write
transaction, serialised across every thread and process on this host; the changes
that a process's threads ask for while one commits share the next transaction
(``group_commit``), each still returning only once its own is committed. A folder
written by the earlier layout (``<name>.state`` beside each blob) is adopted
into the index when a store opens it.
"""

import errno
import fcntl
import io
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from . import NAME_PATTERN, Blob, State, Storage, check_name, durable
from .durable import TEMP_PREFIX
from .group_commit import GroupCommit, Op

INDEX = "index.db"
LOCK = INDEX + ".lock"  # writers queue on its flock
LEGACY_STATE = ".state"  # the layout before the index: <name>.state beside each blob
INLINE_MAX = 64 << 10  # bytes: a blob this size or smaller lives in its row
_ORPHAN_MIN_AGE = 3600  # seconds: a blob file without a row is a crash's leftover once this old
_INHERITED: list = []
_SCHEMA = ("CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, state TEXT NOT NULL, blob BLOB,"
           " in_file INTEGER NOT NULL) WITHOUT ROWID")


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._local = threading.local()
        self._write = GroupCommit(self._commit).run  # change(db) -> its result, once committed (see _commit)
        os.close(os.open(self.root / INDEX, os.O_RDWR | os.O_CREAT, 0o600))  # SQLite gives -wal and -shm its mode
        self._write(lambda db: db.execute(_SCHEMA))
        self._adopt_state_files()

    def put(self, name: str, chunks: Iterable[bytes], state: State) -> int:
        path = self.root / check_name(name)
        head, rest = _head(chunks)
        if rest is None:
            self._write(lambda db: db.execute("INSERT INTO files VALUES (?, ?, ?, 0)", (name, _encode(state), head)))
            return len(head)
        tmp, size = durable.write_temp(self.root, _chain(head, rest))
        try:
            os.link(tmp, path)
        finally:
            tmp.unlink()
        try:
            durable.fsync_folder(self.root)
            self._write(lambda db: db.execute("INSERT INTO files VALUES (?, ?, NULL, 1)", (name, _encode(state))))
        except BaseException:
            path.unlink()
            raise
        return size

    def open(self, name: str) -> Blob:
        row = self._row(name, "SELECT blob, in_file FROM files WHERE name = ?")
        if row is None or (row[0] is None and not row[1]):
            raise NotFound()
        if row[0] is not None:
            return Blob(io.BytesIO(row[0]), len(row[0]))
        try:
            stream = open(self.root / name, "rb")  # noqa: SIM115 - the Blob closes it
        except FileNotFoundError:  # deleted since the row was read
            raise NotFound() from None
        return Blob(stream, os.fstat(stream.fileno()).st_size)

    def read_state(self, name: str) -> State:
        row = self._row(name, "SELECT state FROM files WHERE name = ?")
        if row is None:
            raise NotFound()
        return json.loads(row[0])

    def update_state(self, name: str, mutate: Callable[[State], State]) -> State:
        check_name(name)

        def update(db: sqlite3.Connection) -> State:
            row = db.execute("SELECT state FROM files WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound()
            new = mutate(json.loads(row[0]))
            db.execute("UPDATE files SET state = ? WHERE name = ?", (_encode(new), name))
            return new

        return self._write(update)

    def delete(self, name: str) -> bool:
        return self._drop(name, "DELETE FROM files WHERE name = ?")

    def delete_blob(self, name: str) -> bool:
        return self._drop(name, "UPDATE files SET blob = NULL, in_file = 0 WHERE name = ?", blob_only=True)

    def names(self) -> Iterator[str]:
        with self._sql() as db:
            rows = db.execute("SELECT name FROM files").fetchall()
        return iter([name for (name,) in rows])

    def exists(self, name: str) -> bool:
        row = self._row(name, "SELECT blob IS NOT NULL, in_file FROM files WHERE name = ?")
        return row is not None and (bool(row[0]) or (bool(row[1]) and (self.root / name).is_file()))

    def ping(self) -> None:
        try:
            durable.write_temp(self.root, [b"ok"])[0].unlink()
            self._write(lambda db: None)
        except (OSError, InsufficientStorage) as exc:
            raise StorageUnavailable() from exc

    def sweep_temp(self, now: float | None = None) -> int:
        """Temp files of dead writers, and blob files that no row names (a crash before their commit)."""
        now = time.time() if now is None else now
        removed = sum(durable.sweep_temp_file(path, now) for path in self.root.glob(TEMP_PREFIX + "*"))
        with self._sql() as db:
            named = {name for (name,) in db.execute("SELECT name FROM files WHERE in_file = 1")}
        for path in self.root.iterdir():
            if NAME_PATTERN.fullmatch(path.name) and path.name not in named:
                try:
                    if path.stat().st_mtime < now - _ORPHAN_MIN_AGE:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        return removed

    # -- helpers ---------------------------------------------------------------

    def _adopt_state_files(self) -> None:
        """Files stored before the index (a ``<name>.state`` file and ``<name>.lock`` beside each blob) join it."""
        for path in self.root.glob("*" + LEGACY_STATE):
            name = path.name.removesuffix(LEGACY_STATE)
            if not NAME_PATTERN.fullmatch(name):
                continue
            try:
                state = json.loads(path.read_bytes())
            except (FileNotFoundError, ValueError):  # adopted by another worker meanwhile; or damaged: left as is
                continue
            row = (name, _encode(state), int((self.root / name).is_file()))
            self._write(lambda db, row=row: db.execute("INSERT OR IGNORE INTO files VALUES (?, ?, NULL, ?)", row))
            path.unlink(missing_ok=True)
            (self.root / (name + ".lock")).unlink(missing_ok=True)

    def _row(self, name: str, query: str) -> tuple | None:
        check_name(name)
        with self._sql() as db:
            return db.execute(query, (name,)).fetchone()

    def _drop(self, name: str, statement: str, blob_only: bool = False) -> bool:
        check_name(name)

        def drop(db: sqlite3.Connection) -> tuple | None:
            row = db.execute("SELECT blob IS NOT NULL, in_file FROM files WHERE name = ?", (name,)).fetchone()
            db.execute(statement, (name,))
            return row

        row = self._write(drop)
        if row is not None and row[1]:
            (self.root / name).unlink(missing_ok=True)
            durable.fsync_folder(self.root)
        return row is not None and (not blob_only or bool(row[0] or row[1]))

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are not shared across threads or a fork)."""
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            if db is not None:  # a forked child's copy of its parent's: never closed here, as SQLite requires
                _INHERITED.append((db, self._local.lock))
            fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._local.lock = os.fdopen(fd, "r+b", buffering=0)  # closed with the thread's other locals
            # Under the writers' lock: SQLite answers a second process switching a new index to WAL at the
            # same moment "database is locked" at once, without waiting (workers boot together).
            fcntl.flock(self._local.lock, fcntl.LOCK_EX)
            try:
                db = sqlite3.connect(self.root / INDEX, timeout=60, isolation_level=None)
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
            finally:
                fcntl.flock(self._local.lock, fcntl.LOCK_UN)
            self._local.db, self._local.pid = db, os.getpid()
        return db

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
        the next one as soon as the holder is done. SQLite's own wait for its write lock is sleep-and-retry
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


def _encode(state: State) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)
