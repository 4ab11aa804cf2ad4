"""Chunked authenticated encryption: the STREAM construction on AES-256-GCM.

Contract: ``encrypt(file_key, chunks)`` turns an iterable of plaintext pieces of
any size into an iterator of blob bytes (``Sealer`` seals one chunk at a time, for a
writer that resumes); ``open_blob(file_key, read, length)``
checks a blob's header and returns a ``Plaintext`` whose ``size`` is known before
any chunk is decrypted and whose iterator yields verified plaintext chunks. Every
failure raises the single opaque ``DecryptError``. Nothing here touches disk.

Byte format, version 1 (see docs/format.md)::

    header = MAGIC "AnH1" (4) | VERSION 0x01 (1) | CHUNK_CODE (1) | SALT (32)
    chunk_size = 2 ** CHUNK_CODE, 16 <= CHUNK_CODE <= 20 (64 KiB .. 1 MiB)
    payload_key = HKDF-SHA256(ikm=file_key, salt=SALT, info=b"anon-hosting stream v1", L=32)
    chunk i = AES-256-GCM(payload_key, nonce_i, plaintext_i, aad=header)  (ciphertext | 16-byte tag)
    nonce_i = i as 11-byte big-endian | 0x01 if last chunk else 0x00

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes. The last
holds 1..chunk_size bytes, or 0 only when the whole plaintext is empty. The last
flag in the nonce detects truncation and appended chunks, the counter detects
reordering, the header as associated data binds chunks to this blob's salt and
chunk size, and a different file key fails the first tag.
"""

import os
import struct
from collections.abc import Callable, Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"AnH1"
VERSION = 1
KEY_SIZE = 32
SALT_SIZE = 32
TAG_SIZE = 16
COUNTER_SIZE = 11
MIN_CHUNK_CODE, MAX_CHUNK_CODE = 16, 20
CHUNK_CODE = 20  # 1 MiB: see docs/format.md for the measurement behind it
CHUNK_SIZE = 1 << CHUNK_CODE
_HEADER = struct.Struct(f">4sBB{SALT_SIZE}s")
HEADER_SIZE = _HEADER.size
_INFO = b"anon-hosting stream v1"
_LAST, _NOT_LAST = b"\x01", b"\x00"


class DecryptError(Exception):
    """The blob is not a valid encryption of anything under this key."""


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(COUNTER_SIZE, "big") + (_LAST if last else _NOT_LAST)


def _payload_aead(file_key: bytes, salt: bytes) -> AESGCM:
    if len(file_key) != KEY_SIZE:
        raise ValueError("file key must be 32 bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=_INFO)
    return AESGCM(hkdf.derive(file_key))


def blocks(pieces: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut pieces into blocks of exactly ``size``; always ends with one short (maybe empty) block."""
    buf = bytearray()
    for piece in pieces:
        if not buf and len(piece) == size:
            yield piece  # the common case when reads match the chunk size: no copy
            continue
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    yield bytes(buf)


def encrypt(file_key: bytes, pieces: Iterable[bytes], *, chunk_code: int = CHUNK_CODE,
            salt: bytes | None = None) -> Iterator[bytes]:
    sealer = Sealer(file_key, os.urandom(SALT_SIZE) if salt is None else salt, chunk_code)
    yield sealer.header
    cut = blocks(pieces, 1 << chunk_code)
    pending, counter = next(cut), 0
    for block in cut:
        if not block:  # the trailing empty block: ``pending`` is the last chunk
            break
        yield sealer.seal(counter, pending, last=False)
        pending, counter = block, counter + 1
    yield sealer.seal(counter, pending, last=True)


class Sealer:
    """Seals any one chunk of a blob on its own (a resumed upload's writer): the bytes ``encrypt`` would give."""

    def __init__(self, file_key: bytes, salt: bytes, chunk_code: int = CHUNK_CODE):
        if not MIN_CHUNK_CODE <= chunk_code <= MAX_CHUNK_CODE:
            raise ValueError("unsupported chunk size")
        self.header = _HEADER.pack(MAGIC, VERSION, chunk_code, salt)
        self._aead = _payload_aead(file_key, salt)

    def seal(self, counter: int, plaintext: bytes, last: bool) -> bytes:
        return self._aead.encrypt(_nonce(counter, last), plaintext, self.header)


class Plaintext:
    """A blob whose header checked out: ``size`` is the plaintext length, iterate for chunks."""

    def __init__(self, aead: AESGCM, header: bytes, read: Callable[[int], bytes], lengths: list[int]):
        self._aead, self._header, self._read = aead, header, read
        self._lengths = lengths  # ciphertext length of every chunk, last one included
        self.size = sum(lengths) - TAG_SIZE * len(lengths)

    def __iter__(self) -> Iterator[bytes]:
        last = len(self._lengths) - 1
        for counter, length in enumerate(self._lengths):
            sealed = self._read(length)
            if len(sealed) != length:
                raise DecryptError()
            try:
                yield self._aead.decrypt(_nonce(counter, counter == last), sealed, self._header)
            except InvalidTag:
                raise DecryptError() from None


def open_blob(file_key: bytes, read: Callable[[int], bytes], length: int) -> Plaintext:
    """Check the header and the blob's length; decryption happens while iterating."""
    header = read(HEADER_SIZE)
    if len(header) != HEADER_SIZE:
        raise DecryptError()
    magic, version, chunk_code, salt = _HEADER.unpack(header)
    if magic != MAGIC or version != VERSION or not MIN_CHUNK_CODE <= chunk_code <= MAX_CHUNK_CODE:
        raise DecryptError()
    chunk_size = 1 << chunk_code
    lengths = chunk_lengths(length - HEADER_SIZE, chunk_size)
    return Plaintext(_payload_aead(file_key, salt), header, read, lengths)


def chunk_lengths(sealed_length: int, chunk_size: int) -> list[int]:
    """The ciphertext length of each chunk of a payload, or DecryptError if no valid payload has it."""
    full = chunk_size + TAG_SIZE
    count, rest = divmod(sealed_length, full)
    if rest == 0 and count > 0:
        return [full] * count
    if rest < TAG_SIZE or (rest == TAG_SIZE and count > 0):
        raise DecryptError()  # too short for a tag, or an empty last chunk after data
    return [full] * count + [rest]


def decrypt(file_key: bytes, blob: bytes) -> bytes:
    """Whole-buffer convenience for tests and vectors."""
    view = memoryview(blob)
    position = 0

    def read(n: int) -> bytes:
        nonlocal position
        part = bytes(view[position:position + n])
        position += len(part)
        return part

    plaintext = b"".join(open_blob(file_key, read, len(blob)))
    if position != len(blob):
        raise DecryptError()
    return plaintext
