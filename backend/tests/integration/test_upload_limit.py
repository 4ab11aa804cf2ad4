"""MAX_UPLOAD_BYTES is enforced on the wire: 413 too_large, and nothing is left on disk.

This module's server accepts at most 8 MiB. An upload that declares more in its
Content-Length is refused before its body is read; a chunked one is cut off as
soon as it grows past the limit. The client stops sending once the answer is
there, as a browser would.
"""

import json
import os

import pytest

from .transfer import (
    MIB,
    MultipartBody,
    chunk_frame,
    connect,
    download_bytes,
    raw_upload_head,
    read_response,
    request_head,
    send_until_answered,
    upload_raw,
    wait_until,
)

LIMIT = 8 * MIB


@pytest.fixture(scope="module")
def small_server(serve):
    with serve("limit-server", max_upload_bytes=LIMIT) as server:
        yield server


PIECE = 256 * 1024


def _pieces(data: bytes):
    return (data[start:start + PIECE] for start in range(0, len(data), PIECE))


def _random_pieces(total: int):
    return (os.urandom(PIECE) for _ in range(total // PIECE))


def assert_too_large_and_nothing_left(server, before: set[str], status: int, body: bytes) -> None:
    assert status == 413, body
    assert b'"too_large"' in body
    assert wait_until(lambda: server.storage_entries() == before, timeout=10), (
        f"left in storage: {server.storage_entries() - before}")


def test_upload_of_exactly_the_limit_round_trips(small_server):
    data = os.urandom(LIMIT)
    response = upload_raw(small_server, data, "exactly-the-limit.bin")
    assert response.status_code == 201, response.text
    assert response.json()["size"] == LIMIT
    assert download_bytes(small_server, response.json()["token"]) == data


def test_chunked_upload_under_the_limit_round_trips(small_server):
    data = os.urandom(3 * MIB + 5)
    with connect(small_server) as sock:
        sock.sendall(raw_upload_head("chunked.bin", chunked=True))
        send_until_answered(sock, (chunk_frame(piece) for piece in [*_pieces(data), b""]))
        status, body = read_response(sock, small_server)
    assert status == 201, body
    assert download_bytes(small_server, json.loads(body)["token"]) == data


def test_declared_content_length_over_the_limit_is_413_and_leaves_nothing(small_server):
    before = small_server.storage_entries()
    with connect(small_server) as sock:
        sock.sendall(raw_upload_head("too-big.bin", content_length=LIMIT + 1))
        send_until_answered(sock, _pieces(os.urandom(LIMIT + 1)))
        status, body = read_response(sock, small_server)
    assert_too_large_and_nothing_left(small_server, before, status, body)


def test_chunked_body_growing_past_the_limit_is_413_and_leaves_nothing(small_server):
    before = small_server.storage_entries()
    offered = 4 * LIMIT  # far more than the limit plus what socket buffers can hold
    with connect(small_server) as sock:
        sock.sendall(raw_upload_head("endless.bin", chunked=True))
        sent = send_until_answered(sock, (chunk_frame(piece) for piece in _random_pieces(offered)))
        status, body = read_response(sock, small_server)
    assert sent < offered, "the server took the whole over-limit body before answering"
    assert_too_large_and_nothing_left(small_server, before, status, body)


def test_multipart_file_one_byte_over_the_limit_is_413_and_leaves_nothing(small_server):
    before = small_server.storage_entries()
    source = MultipartBody(os.urandom(LIMIT + 1), "too-big.bin")
    body = b"".join(source)
    with connect(small_server) as sock:
        sock.sendall(request_head(source.content_type, content_length=len(body)))
        send_until_answered(sock, _pieces(body))
        status, answer = read_response(sock, small_server)
    assert_too_large_and_nothing_left(small_server, before, status, answer)
