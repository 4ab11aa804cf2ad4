"""Backup and restore (backup.py): a copy a fresh store opens with the old tokens, checked, never over data."""

import json
import os
import stat

import pytest

from anon_hosting import backup
from anon_hosting.keys import KEYSET_FILE, KeyRing
from anon_hosting.results import Limits
from anon_hosting.service import FileService
from anon_hosting.storage.local import INLINE_MAX, LocalStorage

SECRET = "b" * 40


def make_service(root):
    return FileService(LocalStorage(root / "files"), KeyRing(root / "private", SECRET), Limits(1 << 30, 3600, 86400))


def read(service, token) -> bytes:
    download = service.retrieve(token)
    try:
        return b"".join(download.chunks)
    finally:
        download.close()


@pytest.fixture
def stored(tmp_path):
    service = make_service(tmp_path / "old")
    contents = {b"small": None, os.urandom(INLINE_MAX * 3): None, b"limited": {"max_downloads": "2"}}
    tokens = {service.upload("f.bin", [data], lambda options=options: options or {}).token: data
              for data, options in contents.items()}
    return service, tokens


def test_a_restored_store_opens_every_file_with_its_old_token(stored, tmp_path):
    service, tokens = stored
    manifest = backup.backup(service.storage, tmp_path / "old" / "private", tmp_path / "backup")
    assert manifest["files"] == 3
    assert KEYSET_FILE in " ".join(manifest["checksums"])
    assert SECRET not in (tmp_path / "backup" / "private" / KEYSET_FILE).read_text()
    fresh = make_service(tmp_path / "new")  # a fresh stack, same SECRET_KEY: it has made its own key set
    backup.restore(fresh.storage, tmp_path / "new" / "private", tmp_path / "backup")
    fresh = make_service(tmp_path / "new")  # as the servers started after a restore
    assert {token: read(fresh, token) for token in tokens} == tokens
    assert (tmp_path / "new" / "private" / (KEYSET_FILE + backup.REPLACED_SUFFIX)).is_file()
    for path in (tmp_path / "backup").rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_a_backup_goes_only_into_an_empty_folder(stored, tmp_path):
    service, _ = stored
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "something").write_text("x")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.backup(service.storage, tmp_path / "old" / "private", tmp_path / "busy")


def test_restore_refuses_a_store_that_holds_files_and_changes_nothing(stored, tmp_path):
    service, tokens = stored
    backup.backup(service.storage, tmp_path / "old" / "private", tmp_path / "backup")
    keyset = (tmp_path / "old" / "private" / KEYSET_FILE).read_bytes()
    with pytest.raises(backup.BackupError, match="already holds files"):
        backup.restore(service.storage, tmp_path / "old" / "private", tmp_path / "backup")
    assert (tmp_path / "old" / "private" / KEYSET_FILE).read_bytes() == keyset
    assert {token: read(service, token) for token in tokens} == tokens


@pytest.mark.parametrize("damage", ["flip a byte of a blob", "drop the key set", "add a stray file",
                                    "edit the manifest"])
def test_restore_refuses_a_damaged_backup_before_writing_anything(stored, tmp_path, damage):
    service, _ = stored
    dest = tmp_path / "backup"
    backup.backup(service.storage, tmp_path / "old" / "private", dest)
    if damage == "flip a byte of a blob":
        blob = next((dest / backup.BLOBS).iterdir())
        data = bytearray(blob.read_bytes())
        data[100] ^= 1
        blob.write_bytes(bytes(data))
    elif damage == "drop the key set":
        (dest / backup.KEYS / KEYSET_FILE).unlink()
    elif damage == "add a stray file":
        (dest / backup.BLOBS / "notes.txt").write_text("x")
    else:
        manifest = json.loads((dest / backup.MANIFEST).read_text())
        manifest["checksums"][backup.INDEX] = "1 00"
        (dest / backup.MANIFEST).write_text(json.dumps(manifest))
    fresh = make_service(tmp_path / "new")
    keyset = (tmp_path / "new" / "private" / KEYSET_FILE).read_bytes()
    with pytest.raises(backup.BackupError):
        backup.restore(fresh.storage, tmp_path / "new" / "private", dest)
    assert list(fresh.storage.names()) == []
    assert [p.name for p in (tmp_path / "new" / "files").iterdir() if not p.name.startswith("index.db")] == []
    assert (tmp_path / "new" / "private" / KEYSET_FILE).read_bytes() == keyset
