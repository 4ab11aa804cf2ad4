"""File modes of everything a real gunicorn creates: only the server's own user can read keys or blobs.

The server starts on folders that do not exist yet, under a permissive umask
(0o000), so the modes come from the code and not from the test's umask: key set
0600 in a 0700 private folder, storage folder 0700, and the index (with its WAL
and shared-memory files), every blob file and the sweeper's lock 0600.
"""

import os
import stat

import pytest

from anon_hosting.keys import KEYSET_FILE
from anon_hosting.storage.local import INDEX, INLINE_MAX

from .transfer import info, upload_raw


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def open_umask_server(serve):
    old = os.umask(0)  # inherited by gunicorn
    try:
        with serve("permissions", extra_env={"SWEEP_INTERVAL": "1"}) as server:
            os.umask(old)
            yield server
    finally:
        os.umask(old)


def test_modes_of_files_a_real_server_creates(open_umask_server):
    server = open_umask_server
    answer = server.session().post(server.url("/api/files?max_downloads=2"), data=b"secret", timeout=30,
                                   headers={"Content-Type": "application/octet-stream"}).json()
    upload_raw(server, os.urandom(INLINE_MAX + 1), "b.bin")  # too large for its row: a blob file
    server.session().post(server.url("/api/files/retrieve"), json={"token": answer["token"]}, timeout=30)
    assert info(server, answer["token"]).status_code == 200
    assert mode(server.private_dir) == 0o700
    assert mode(server.private_dir / KEYSET_FILE) == 0o600
    assert mode(server.storage_dir) == 0o700
    entries = sorted(os.listdir(server.storage_dir))
    assert {INDEX, INDEX + "-wal", INDEX + "-shm"} <= set(entries), entries
    assert [name for name in entries if len(name) == 43], entries
    for name in entries:
        assert mode(server.storage_dir / name) == 0o600, name
    for name in os.listdir(server.private_dir):
        assert mode(server.private_dir / name) == 0o600, name
