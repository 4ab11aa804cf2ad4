"""The streaming format: boundary sizes, every tamper case, fixed vectors, an independent decoder."""

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from anon_hosting.crypto import stream

KEY = os.urandom(32)
CODE = 16  # 64 KiB chunks keep the boundary cases small
CHUNK = 1 << CODE
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 500]
VECTORS = json.loads(Path(__file__).with_name("vectors.json").read_text())


def seal(data: bytes, key: bytes = KEY, pieces: int = 1) -> bytes:
    step = max(1, len(data) // pieces)
    parts = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(stream.encrypt(key, parts, chunk_code=CODE))


def chunks_of(blob: bytes) -> tuple[bytes, list[bytes]]:
    header, body = blob[:stream.HEADER_SIZE], blob[stream.HEADER_SIZE:]
    step = CHUNK + stream.TAG_SIZE
    return header, [body[i:i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pieces", [1, 3, 1000])
def test_round_trip_at_boundaries(size, pieces):
    data = os.urandom(size)
    blob = seal(data, pieces=pieces)
    assert stream.decrypt(KEY, blob) == data
    plaintext = stream.open_blob(KEY, io.BytesIO(blob).read, len(blob))
    assert plaintext.size == size


@pytest.mark.parametrize("size", SIZES)
def test_blob_length_is_header_plus_one_tag_per_chunk(size):
    chunks = max(1, -(-size // CHUNK))
    assert len(seal(os.urandom(size))) == stream.HEADER_SIZE + size + chunks * stream.TAG_SIZE


def test_same_plaintext_twice_gives_different_blobs():
    assert seal(b"same") != seal(b"same")


def _tampered(blob: bytes) -> dict[str, bytes]:
    header, chunks = chunks_of(blob)
    other_chunks = chunks_of(seal(os.urandom(2 * CHUNK + 500)))[1]
    flip = lambda b, i: b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]  # noqa: E731
    return {
        "bit flip in magic": flip(blob, 0),
        "bit flip in salt": flip(blob, 10),
        "chunk code changed": blob[:5] + bytes([17]) + blob[6:],
        "bit flip in first chunk": flip(blob, stream.HEADER_SIZE + 5),
        "bit flip in last tag": flip(blob, len(blob) - 1),
        "truncated at chunk boundary": header + b"".join(chunks[:2]),
        "truncated inside a chunk": blob[:-100],
        "last chunk dropped": header + b"".join(chunks[:-1]),
        "chunks swapped": header + chunks[1] + chunks[0] + chunks[2],
        "chunk duplicated": header + chunks[0] + chunks[0] + chunks[1] + chunks[2],
        "bytes appended": blob + b"\0" * 17,
        "full chunk appended": blob + chunks[0],
        "empty chunk appended": blob + AESGCM(os.urandom(32)).encrypt(os.urandom(12), b"", None),
        "foreign chunk spliced in": header + chunks[0] + other_chunks[1] + chunks[2],
        "foreign header": chunks_of(seal(b"x"))[0] + b"".join(chunks),
        "header only": header,
        "zero bytes": b"",
        "shorter than a header": blob[:20],
    }


@pytest.mark.parametrize("case", list(_tampered(seal(b"\0" * (2 * CHUNK + 500)))))
def test_every_tampering_is_detected(case):
    blob = seal(os.urandom(2 * CHUNK + 500))
    with pytest.raises(stream.DecryptError):
        stream.decrypt(KEY, _tampered(blob)[case])


def test_wrong_key_fails_on_the_first_chunk():
    blob = seal(os.urandom(3 * CHUNK))
    chunks = iter(stream.open_blob(os.urandom(32), io.BytesIO(blob).read, len(blob)))
    with pytest.raises(stream.DecryptError):
        next(chunks)


def test_a_short_read_from_storage_is_an_error():
    blob = seal(os.urandom(2 * CHUNK))
    source = io.BytesIO(blob[:-10])
    with pytest.raises(stream.DecryptError):
        b"".join(stream.open_blob(KEY, source.read, len(blob)))


def test_empty_last_chunk_after_data_is_never_produced_nor_accepted():
    header, chunks = chunks_of(seal(os.urandom(CHUNK)))
    assert len(chunks) == 1
    with pytest.raises(stream.DecryptError):
        stream.chunk_lengths(CHUNK + 2 * stream.TAG_SIZE, CHUNK)


@pytest.mark.parametrize("code", [15, 21])
def test_chunk_sizes_outside_the_format_are_refused(code):
    with pytest.raises(ValueError):
        next(stream.encrypt(KEY, [b"x"], chunk_code=code))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["label"] for v in VECTORS])
def test_fixed_vectors_never_change(vector):
    data = bytes(i % 251 for i in range(vector["size"]))
    key, salt = bytes.fromhex(vector["key"]), bytes.fromhex(vector["salt"])
    blob = b"".join(stream.encrypt(key, [data], chunk_code=vector["chunk_code"], salt=salt))
    assert len(blob) == vector["blob_length"]
    assert hashlib.sha256(blob).hexdigest() == vector["blob_sha256"]
    assert blob[:96].hex() == vector["blob_head_hex"]
    assert _independent_decrypt(key, blob) == data


def _independent_decrypt(key: bytes, blob: bytes) -> bytes:
    """A second decoder written from docs/format.md alone, so the spec and the code agree."""
    header = blob[:38]
    assert header[:4] == b"AnH1" and header[4] == 1
    chunk = 1 << header[5]
    payload_key = HKDF(hashes.SHA256(), 32, header[6:38], b"anon-hosting stream v1").derive(key)
    aead, body, out = AESGCM(payload_key), blob[38:], []
    sealed = [body[i:i + chunk + 16] for i in range(0, len(body), chunk + 16)]
    for i, part in enumerate(sealed):
        last = i == len(sealed) - 1
        out.append(aead.decrypt(i.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), part, header))
    return b"".join(out)
