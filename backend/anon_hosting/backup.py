"""Backup and restore of local storage and the sealed key set, while the server runs.

Contract. ``backup(storage, private_dir, dest)`` writes into ``dest`` (a new or
empty folder) a consistent copy: SQLite's online backup of the index, then every
blob file that copy names (blobs never change once written; one deleted
meanwhile drops its row from the copy), the sealed key set, and
``manifest.json`` with each file's size and sha256. It never holds the
``SECRET_KEY``. ``restore(storage, private_dir, src)`` checks every file of the
manifest first, refuses a store that holds any file, then writes the blobs, then
the index (SQLite's backup API, so the live index file is replaced safely), then
the key set; a key set it replaces is kept beside as ``keyset.jwe.before-restore``.
S3 storage has no backup here: use the bucket's versioning or replication.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import ConfigError
from .keys import KEYSET_FILE
from .storage import NAME_PATTERN, durable
from .storage.index import INDEX
from .storage.local import LocalStorage

MANIFEST = "manifest.json"
FORMAT = 1
BLOBS = "files"
KEYS = "private"
REPLACED_SUFFIX = ".before-restore"


class BackupError(ConfigError):
    """A backup or restore that cannot be done as asked; nothing was changed."""


def backup(storage, private_dir: Path, dest: Path) -> dict:
    local = _local(storage)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty: a backup goes into a new or empty folder.")
    (dest / BLOBS).mkdir(mode=0o700, parents=True)
    (dest / KEYS).mkdir(mode=0o700)
    copy = dest / INDEX
    with _connect(local.root / INDEX) as source, _connect(copy, create=True) as target:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        names = [name for (name,) in target.execute("SELECT name FROM files WHERE in_file = 1")]
        for name in names:
            try:
                _copy(local.root / name, dest / BLOBS / name)
            except FileNotFoundError:  # deleted since the snapshot: so it is not in this backup either
                target.execute("DELETE FROM files WHERE name = ?", (name,))
        files = target.execute("SELECT count(*) FROM files").fetchone()[0]
    _copy(Path(private_dir) / KEYSET_FILE, dest / KEYS / KEYSET_FILE)
    manifest = {"format": FORMAT, "files": files, "checksums": _checksums(dest)}
    _write(dest / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
    durable.fsync_folder(dest)
    return manifest


def restore(storage, private_dir: Path, src: Path) -> dict:
    local, src, private_dir = _local(storage), Path(src), Path(private_dir)
    manifest = verify(src)
    if list(local.names()) or any(NAME_PATTERN.fullmatch(p.name) for p in local.root.iterdir()):
        raise BackupError(f"{local.root} already holds files: restore goes into an empty storage folder only.")
    for path in sorted((src / BLOBS).iterdir()):
        _copy(path, local.root / path.name)
    durable.fsync_folder(local.root)
    with _connect(src / INDEX, read_only=True) as source, _connect(local.root / INDEX) as target:
        source.backup(target)
    keyset = private_dir / KEYSET_FILE
    if keyset.exists():
        os.replace(keyset, keyset.with_name(KEYSET_FILE + REPLACED_SUFFIX))
    _copy(src / KEYS / KEYSET_FILE, keyset)
    durable.fsync_folder(private_dir)
    return manifest


def verify(src: Path) -> dict:
    """The backup's manifest, once every file it lists is there with its checksum, and nothing else is."""
    try:
        manifest = json.loads((src / MANIFEST).read_bytes())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} holds no readable {MANIFEST}: not a backup.") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: unknown backup format {manifest.get('format')!r}.")
    found = _checksums(src)
    if found != manifest["checksums"]:
        wrong = sorted(set(found.items()) ^ set(manifest["checksums"].items()))
        raise BackupError(f"{src} does not match its manifest ({len(wrong)} difference(s), first: {wrong[0][0]}).")
    if any(not NAME_PATTERN.fullmatch(p.name) for p in (src / BLOBS).iterdir()):
        raise BackupError(f"{src}/{BLOBS} holds a file that is not a blob.")
    return manifest


def _local(storage) -> LocalStorage:
    if not isinstance(storage, LocalStorage):
        raise BackupError("Backups here cover local storage only; for S3 use the bucket's versioning or "
                          "replication (docs/operations.md).")
    return storage


def _connect(path: Path, create: bool = False, read_only: bool = False) -> _Closing:
    if create:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    uri = f"{path.resolve().as_uri()}?mode={'ro' if read_only else 'rw'}"
    return _Closing(sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None))


class _Closing:
    """A connection closed when its ``with`` block ends (sqlite3's own ``with`` only commits)."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *_) -> None:
        self.db.close()


def _copy(source: Path, dest: Path) -> None:
    """A durable copy, mode 0600, never over an existing file."""
    with open(source, "rb") as reader:
        tmp, _ = durable.write_temp(dest.parent, iter(lambda: reader.read(1 << 20), b""))
    try:
        os.link(tmp, dest)
    finally:
        tmp.unlink()


def _write(path: Path, data: bytes) -> None:
    tmp, _ = durable.write_temp(path.parent, [data])
    os.replace(tmp, path)


def _checksums(folder: Path) -> dict[str, str]:
    """{relative path: "size sha256"} of every file under ``folder`` but the manifest."""
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            shutil.copyfileobj(f, _Hasher(digest))
        sums[str(path.relative_to(folder))] = f"{path.stat().st_size} {digest.hexdigest()}"
    return sums


class _Hasher:
    def __init__(self, digest):
        self.digest = digest

    def write(self, data: bytes) -> None:
        self.digest.update(data)
