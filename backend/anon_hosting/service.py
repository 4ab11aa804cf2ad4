"""Upload, info and retrieve: the only place that combines crypto, tokens and storage.

Contract: ``FileService`` methods take plain Python values (a name, an iterator
of plaintext bytes, a token string) and return plain results or raise
``errors.AppError`` subclasses. Every upload gets a fresh random 256-bit file key
and storage name; the key exists only inside the returned token. Time is
injectable (``now``) so expiry rules are testable.
"""

import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from . import names, tokens
from .crypto import stream
from .errors import BadRequest, CorruptFile, Expired, TooLarge
from .keys import KeyRing
from .storage import Storage


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    default_expires_in: int
    max_expires_in: int


@dataclass(frozen=True)
class Uploaded:
    token: str
    name: str
    size: int
    expires_at: str | None


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    created_at: str
    expires_at: str | None
    downloads_left: int | None


@dataclass
class Download:
    name: str
    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]


class FileService:
    def __init__(self, storage: Storage, keyring: KeyRing, limits: Limits):
        self.storage, self.keyring, self.limits = storage, keyring, limits

    def upload(self, name: str, chunks: Iterable[bytes], options: Callable[[], Mapping[str, str]],
               now: float | None = None) -> Uploaded:
        """Store ``chunks`` encrypted. ``options`` is read after the body, so form fields may follow the file."""
        now = int(time.time() if now is None else now)
        file_key = secrets.token_bytes(stream.KEY_SIZE)
        storage_name = secrets.token_urlsafe(32)
        counter = _Counter(chunks, self.limits.max_upload_bytes)
        self._expires_in(options().get("expires_in"))  # fail fast on the options known before the body
        self.storage.put(storage_name, stream.encrypt(file_key, counter))
        try:
            expires_in = self._expires_in(options().get("expires_in"))
        except BaseException:
            self.storage.delete(storage_name)
            raise
        claims = tokens.FileClaims(names.clean(name), storage_name, file_key, now, now + expires_in)
        token = tokens.issue(claims, self.keyring)
        return Uploaded(token, claims.name, counter.size, _iso(claims.expires_at))

    def info(self, token: str, now: float | None = None) -> FileInfo:
        claims = self._claims(token, now)
        blob = self.storage.open(claims.storage_name)
        try:
            size = stream.open_blob(claims.file_key, blob.read, blob.size).size
        except stream.DecryptError:
            raise CorruptFile() from None
        finally:
            blob.close()
        return FileInfo(claims.name, size, _iso(claims.created_at), _iso(claims.expires_at), None)

    def retrieve(self, token: str, now: float | None = None) -> Download:
        """Verify the blob's header and first chunk before anything is sent; later chunks are checked as they stream."""
        claims = self._claims(token, now)
        blob = self.storage.open(claims.storage_name)
        try:
            plaintext = stream.open_blob(claims.file_key, blob.read, blob.size)
            chunks = iter(plaintext)
            first = next(chunks)
        except stream.DecryptError:
            blob.close()
            raise CorruptFile() from None
        return Download(claims.name, plaintext.size, _chain(first, chunks), blob.close)

    def ping(self) -> None:
        self.storage.ping()

    def _claims(self, token: str, now: float | None) -> tokens.FileClaims:
        claims = tokens.verify(token, self.keyring)
        now = time.time() if now is None else now
        if claims.expires_at is not None and claims.expires_at <= now:
            raise Expired()
        return claims

    def _expires_in(self, raw: str | None) -> int:
        if raw is None or raw == "":
            return self.limits.default_expires_in
        if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
            raise BadRequest("expires_in must be a positive number of seconds.")
        return min(int(raw), self.limits.max_expires_in)


class _Counter:
    """Counts plaintext bytes as they pass and stops the upload once it is over the limit."""

    def __init__(self, chunks: Iterable[bytes], limit: int):
        self._chunks, self._limit, self.size = chunks, limit, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.size += len(chunk)
            if self.size > self._limit:
                raise TooLarge()
            yield chunk


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
