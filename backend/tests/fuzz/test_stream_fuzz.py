"""The blob decoder against random damage: every real change is rejected, nothing wrong is ever returned.

A valid blob (64 KiB chunks, 0 to 3 chunks and a bit of plaintext) is mutated
by one or more bit flips, insertions, deletions, truncations, chunk swaps,
duplications, drops and appends. ``decrypt`` must raise ``DecryptError`` for
every mutated blob that differs from the original; if it ever returns, what it
returns must be the original plaintext (so only a no-op mutation may succeed).
The streaming path (``open_blob`` and iterating) is held to the same rule:
whatever chunks it yields before failing must be a prefix of the original.
"""

import io
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anon_hosting.crypto import stream

from .conftest import FUZZ

CODE = 16
CHUNK = 1 << CODE
SEALED_CHUNK = CHUNK + stream.TAG_SIZE
KEY = bytes(range(32))
SIZES = [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 777, 3 * CHUNK - 5]


def seal(size: int, seed: int, key: bytes = KEY) -> tuple[bytes, bytes]:
    plaintext = random.Random(seed).randbytes(size)
    return plaintext, b"".join(stream.encrypt(key, [plaintext], chunk_code=CODE))


def sealed_chunks(blob: bytes) -> list[bytes]:
    body = blob[stream.HEADER_SIZE:]
    return [body[i:i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)]


@st.composite
def mutation(draw, blob: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "flip", "insert", "delete", "truncate", "swap", "duplicate", "drop",
                                 "append", "replace header", "splice"]))
    n = len(blob)
    if kind == "flip":
        at = draw(st.integers(0, n - 1))
        return blob[:at] + bytes([blob[at] ^ (1 << draw(st.integers(0, 7)))]) + blob[at + 1:]
    if kind == "insert":
        at = draw(st.integers(0, n))
        return blob[:at] + draw(st.binary(min_size=1, max_size=64)) + blob[at:]
    if kind == "delete":
        at = draw(st.integers(0, n - 1))
        return blob[:at] + blob[at + draw(st.integers(1, 2 * SEALED_CHUNK)):]
    if kind == "truncate":
        return blob[:draw(st.integers(0, n - 1))]
    if kind == "append":
        return blob + draw(st.binary(min_size=1, max_size=SEALED_CHUNK + 20))
    if kind == "replace header":
        return draw(st.binary(min_size=stream.HEADER_SIZE, max_size=stream.HEADER_SIZE)) + blob[stream.HEADER_SIZE:]
    header, chunks = blob[:stream.HEADER_SIZE], sealed_chunks(blob)
    if not chunks:
        return blob + b"\0"
    i, j = draw(st.integers(0, len(chunks) - 1)), draw(st.integers(0, len(chunks) - 1))
    if kind == "swap":
        chunks[i], chunks[j] = chunks[j], chunks[i]
    elif kind == "duplicate":
        chunks.insert(i, chunks[j])
    elif kind == "drop":
        del chunks[i]
    else:  # splice: a chunk of another blob under the same key, at the same position
        other = sealed_chunks(seal(len(blob), draw(st.integers()))[1])
        chunks[i] = other[min(i, len(other) - 1)]
    return header + b"".join(chunks)


def check(original: bytes, plaintext: bytes, damaged: bytes, key: bytes = KEY) -> None:
    try:
        result = stream.decrypt(key, damaged)
    except stream.DecryptError:
        result = None
    if damaged == original and key == KEY:
        assert result == plaintext
    else:
        assert result is None or result == plaintext, "a damaged blob decrypted to different bytes"
        assert result is None, "a damaged blob decrypted (to the right bytes, but it should be refused)"
    yielded = b""
    try:
        for chunk in stream.open_blob(key, io.BytesIO(damaged).read, len(damaged)):
            yielded += chunk
    except stream.DecryptError:
        pass
    assert plaintext.startswith(yielded), "the streaming decoder yielded bytes that are not the original"


@FUZZ
@given(size=st.sampled_from(SIZES), seed=st.integers(0, 2**32), data=st.data(), rounds=st.integers(1, 3))
def test_mutated_blobs_are_always_rejected(size, seed, data, rounds):
    plaintext, blob = seal(size, seed)
    damaged = blob
    for _ in range(rounds):
        damaged = data.draw(mutation(damaged if damaged else blob))
    check(blob, plaintext, damaged)


@FUZZ
@given(size=st.sampled_from(SIZES), seed=st.integers(0, 2**32), key=st.binary(min_size=32, max_size=32))
def test_another_key_never_decrypts(size, seed, key):
    plaintext, blob = seal(size, seed)
    if key != KEY:
        check(blob, plaintext, blob, key=key)


@FUZZ
@given(junk=st.binary(max_size=3 * SEALED_CHUNK))
def test_random_bytes_are_never_a_blob(junk):
    with pytest.raises(stream.DecryptError):
        stream.decrypt(KEY, junk)


@FUZZ
@given(junk=st.binary(max_size=2 * SEALED_CHUNK), code=st.integers(0, 255), version=st.integers(0, 255))
def test_a_plausible_header_over_random_bytes_is_rejected(junk, code, version):
    header = stream.MAGIC + bytes([version, code]) + bytes(stream.SALT_SIZE)
    with pytest.raises(stream.DecryptError):
        stream.decrypt(KEY, header + junk)
