"""A full disk during an upload, on a real gunicorn whose storage folder is a 64 MiB tmpfs.

The disk runs out at five different points: in the middle of a body bigger
than the disk, at the very first write when a filler file left no room at all
(for a blob file, and for a small blob's row in the index), at the final flush
of the blob's last bytes (a filler left room for everything but that), at the
state's row written after the blob (room for exactly the blob), and in fsync of
the blob (injected, see conftest). Each time the client gets ``507
insufficient_storage`` in the JSON shape, storage holds no blob, no state and
no temp file of that upload, and the server keeps serving.
"""

import json
import os

import pytest

from ..integration.transfer import (
    MIB,
    connect,
    download_bytes,
    raw_upload_head,
    read_response,
    send_until_answered,
    upload_raw,
)
from .conftest import fault_env, free_bytes, needs_root, storage_kinds, tmpfs

pytestmark = needs_root
DISK = 64 * MIB
PAGE = 4096
HEADER, SEALED_CHUNK = 38, MIB + 16  # crypto/stream.py format v1 with 1 MiB chunks


@pytest.fixture(scope="module")
def full_disk_server(tmp_path_factory, serve):
    root = tmp_path_factory.mktemp("disk-full")
    switch = root / "fault-switch"
    with tmpfs(root / "storage", str(DISK)) as mount:
        env = {**fault_env(switch), "ENCRYPTED_FILE_STORAGE": str(mount), "SWEEP_INTERVAL": "0"}
        with serve("disk-full", workers=1, extra_env=env) as server:
            server.storage_dir = mount  # the listing helpers look here
            server.switch = switch
            yield server


def upload_over_socket(server, size: int) -> tuple[int, dict]:
    """Send a raw upload of ``size`` zero bytes, stopping once the server answers early."""
    pieces = (b"\0" * min(MIB, size - sent) for sent in range(0, size, MIB))
    with connect(server) as sock:
        sock.sendall(raw_upload_head("big.bin", content_length=size))
        send_until_answered(sock, pieces)
        status, body = read_response(sock, server)
    return status, json.loads(body)


def assert_507_and_nothing_left(server, status: int, body: dict, before: set[str]) -> None:
    assert status == 507, body
    assert set(body) == {"error"} and body["error"]["code"] == "insufficient_storage"
    assert body["error"]["message"].endswith(".")
    left = storage_kinds(server.storage_entries() - before)
    assert left == {"blobs": set(), "states": set(), "temps": set(), "other": set()}, left


def assert_still_serving(server) -> None:
    data = os.urandom(200_000)
    response = upload_raw(server, data, "after.bin")
    assert response.status_code == 201, response.text
    assert download_bytes(server, response.json()["token"]) == data


def fill(server, leave: int) -> "os.PathLike":
    """A filler file (outside the app's names) that leaves exactly ``leave`` bytes free."""
    filler = server.storage_dir / "filler.bin"
    free = free_bytes(server.storage_dir)
    with open(filler, "wb") as f:
        f.truncate(0)
        remaining = free - leave
        while remaining > 0:
            f.write(b"\xff" * min(MIB, remaining))
            remaining -= min(MIB, remaining)
    assert free_bytes(server.storage_dir) == leave
    return filler


def test_a_body_bigger_than_the_disk_is_507_and_leaves_nothing(full_disk_server):
    before = full_disk_server.storage_entries()
    status, body = upload_over_socket(full_disk_server, 100 * MIB)
    assert_507_and_nothing_left(full_disk_server, status, body, before)
    assert free_bytes(full_disk_server.storage_dir) > DISK - 2 * MIB, "the partial blob's space was not freed"
    assert_still_serving(full_disk_server)  # without deleting anything


def blob_pages(size: int, *, before_last_chunk: bool = False) -> int:
    """Pages the blob of ``size`` plaintext bytes fills (tmpfs allocates whole pages)."""
    chunks, last = divmod(size, MIB)
    length = HEADER + chunks * SEALED_CHUNK + (0 if before_last_chunk else last + 16)
    return -(-length // PAGE)


SIZE = 2 * MIB + 5000  # the last chunk (5016 sealed bytes) stays in Python's buffer until flush()


@pytest.mark.parametrize("size", [SIZE, 1000], ids=["a blob file", "a blob in its row"])
def test_no_room_at_all_is_507_at_the_first_write(full_disk_server, size):
    filler = fill(full_disk_server, 0)
    try:
        before = full_disk_server.storage_entries()
        status, body = upload_over_socket(full_disk_server, size)
        assert_507_and_nothing_left(full_disk_server, status, body, before)
    finally:
        filler.unlink()
    assert_still_serving(full_disk_server)


@pytest.mark.parametrize("where,room", [
    ("the blob's last bytes, at flush()", blob_pages(SIZE, before_last_chunk=True)),
    ("the state's row, written after the whole blob", blob_pages(SIZE)),
])
def test_no_room_for_the_last_write_is_507_and_leaves_nothing(full_disk_server, where, room):
    assert blob_pages(SIZE) == blob_pages(SIZE, before_last_chunk=True) + 1, "the last chunk must need a page"
    filler = fill(full_disk_server, room * PAGE)
    try:
        before = full_disk_server.storage_entries()
        status, body = upload_over_socket(full_disk_server, SIZE)
        assert_507_and_nothing_left(full_disk_server, status, body, before)
        assert free_bytes(full_disk_server.storage_dir) == room * PAGE, "the failed upload still holds space"
    finally:
        filler.unlink()
    assert_still_serving(full_disk_server)


def test_enospc_in_fsync_is_507_and_leaves_nothing(full_disk_server):
    before = full_disk_server.storage_entries()
    full_disk_server.switch.write_text("blob")
    try:
        status, body = upload_over_socket(full_disk_server, 3 * MIB)
    finally:
        full_disk_server.switch.unlink()
    assert_507_and_nothing_left(full_disk_server, status, body, before)
    assert_still_serving(full_disk_server)
