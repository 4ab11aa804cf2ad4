"""A client that vanishes halfway through an upload leaves nothing behind, and the server carries on.

The client sends a head announcing N bytes, sends N/2, waits until the server
is visibly writing (a ``.tmp-*`` file exists in storage), then closes the socket.
"""

import os

import pytest

from .transfer import MIB, MultipartBody, connect, download_bytes, raw_upload_head, request_head, upload_raw, wait_until

SIZE = 8 * MIB


def _raw_upload_parts() -> tuple[bytes, bytes]:
    return raw_upload_head("dropped.bin", content_length=SIZE), os.urandom(SIZE // 2)


def _multipart_upload_parts() -> tuple[bytes, bytes]:
    body = MultipartBody(os.urandom(SIZE), "dropped.bin")
    everything = b"".join(body)
    return request_head(body.content_type, content_length=len(everything)), everything[:len(everything) // 2]


PARTS = {"raw": _raw_upload_parts, "multipart": _multipart_upload_parts}


def _temp_files(server) -> set[str]:
    return {name for name in server.storage_entries() if name.startswith(".tmp-")}


def drop_upload_halfway(server, form: str = "raw") -> None:
    head, half = PARTS[form]()
    with connect(server) as sock:
        sock.sendall(head)
        sock.sendall(half)
        assert wait_until(lambda: _temp_files(server)), "the server never started writing the upload"


@pytest.mark.parametrize("form", ["raw", "multipart"])
def test_dropped_upload_leaves_no_blob_and_no_temp_file(server, form):
    before = server.storage_entries()
    drop_upload_halfway(server, form)
    assert wait_until(lambda: server.storage_entries() == before, timeout=10), (
        f"left in storage: {server.storage_entries() - before}")


def test_server_keeps_serving_after_a_dropped_upload(server):
    drop_upload_halfway(server)
    response = upload_raw(server, b"still here", "after.txt")
    assert response.status_code == 201, response.text
    assert download_bytes(server, response.json()["token"]) == b"still here"
