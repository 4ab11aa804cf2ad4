"""Blobs damaged on disk are never served as a complete download, over HTTP from a real gunicorn.

Each file is 4.5 MiB (five 1 MiB chunks). The damage: a bit flip in a middle
chunk, a truncation at a chunk boundary, two chunks swapped, bytes appended,
another file's blob under this name, and a zero-byte blob. The client reads
the raw HTTP answer and must see either a JSON error before any body, or a
body that ends before its Content-Length: never Content-Length bytes of
anything, and never bytes that differ from the original where it did get some.
"""

import json
import os
import shutil

import pytest
import requests

from ..integration.transfer import MIB, upload_raw

SIZE = 4 * MIB + MIB // 2
HEADER, SEALED_CHUNK = 38, MIB + 16


@pytest.fixture(scope="module")
def corrupt_server(serve):
    with serve("corrupt", workers=2, extra_env={"SWEEP_INTERVAL": "0"}) as server:
        yield server


def stored(server) -> tuple[str, str, bytes]:
    """Upload a fresh file; return its token, storage name and content."""
    before = server.storage_entries()
    data = os.urandom(SIZE)
    response = upload_raw(server, data, "victim.bin")
    assert response.status_code == 201, response.text
    [name] = {n for n in server.storage_entries() - before if len(n) == 43}
    return response.json()["token"], name, data


def chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER:]
    return blob[:HEADER], [body[i:i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)]


def flip_middle(blob, other):
    at = HEADER + 2 * SEALED_CHUNK + SEALED_CHUNK // 2
    return blob[:at] + bytes([blob[at] ^ 0x10]) + blob[at + 1:]


def truncate_at_boundary(blob, other):
    return blob[:HEADER + 3 * SEALED_CHUNK]


def swap_chunks(blob, other):
    header, parts = chunks(blob)
    parts[1], parts[2] = parts[2], parts[1]
    return header + b"".join(parts)


def append_bytes(blob, other):
    return blob + os.urandom(100)


def foreign_blob(blob, other):
    return other


def zero_bytes(blob, other):
    return b""


DAMAGE = [flip_middle, truncate_at_boundary, swap_chunks, append_bytes, foreign_blob, zero_bytes]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_a_damaged_blob_is_never_a_complete_download(corrupt_server, damage):
    token, name, data = stored(corrupt_server)
    _, other_name, _ = stored(corrupt_server)
    path = corrupt_server.storage_dir / name
    damaged = damage(path.read_bytes(), (corrupt_server.storage_dir / other_name).read_bytes())
    tmp = path.with_name(".damage")
    tmp.write_bytes(damaged)
    shutil.copymode(path, tmp)
    os.replace(tmp, path)

    response = requests.post(corrupt_server.url("/api/files/retrieve"), json={"token": token}, stream=True,
                             timeout=60)
    if response.status_code != 200:
        body = response.json()
        print(f"\n{damage.__name__}: {response.status_code} {body['error']['code']} before any body")
        assert response.status_code == 500 and body["error"]["code"] == "internal_error", body
        assert "Traceback" not in json.dumps(body)
        return
    announced = int(response.headers["Content-Length"])
    received = b""
    try:
        for piece in response.iter_content(1 << 16):
            received += piece
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError, OSError) as exc:
        cut = exc
    else:
        cut = None
    print(f"\n{damage.__name__}: cut after {len(received)} of {announced} bytes ({type(cut).__name__})")
    assert len(received) < announced, f"a damaged blob was served complete ({len(received)} bytes, {cut!r})"
    assert data.startswith(received), "bytes that are not the original reached the client"
