"""Upload, info, retrieve, delete and sweep: the only place that combines crypto, tokens and storage.

Contract: ``FileService`` methods take plain values (a name, an iterator of
plaintext bytes, a token string, options) and return plain results or raise
``errors.AppError`` subclasses. Every upload gets a fresh random 256-bit file
key and storage name; the key exists only inside the returned download token
(wrapped by the passphrase when there is one). Per-file state (expiry, download
slots, attempts) follows the rules in ``lifecycle``. Time is injectable
(``now``) so the rules are testable.
"""

import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from . import lifecycle, names, options, tokens
from .crypto import passphrase as pp
from .crypto import stream
from .errors import (
    AppError,
    Busy,
    CorruptFile,
    Expired,
    Forbidden,
    NotFound,
    PassphraseRequired,
    TooLarge,
    WrongPassphrase,
)
from .keys import KeyRing
from .storage import Blob, Storage


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    default_expires_in: int
    max_expires_in: int


@dataclass(frozen=True)
class Uploaded:
    token: str
    owner_token: str
    name: str
    size: int
    expires_at: str | None
    max_downloads: int | None
    passphrase: bool


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    created_at: str
    expires_at: str | None
    downloads_left: int | None
    downloads_in_progress: int


@dataclass
class Download:
    name: str
    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]


class FileService:
    def __init__(self, storage: Storage, keyring: KeyRing, limits: Limits):
        self.storage, self.keyring, self.limits = storage, keyring, limits
        self.sweeps: list[Callable[[float, bool], int]] = []  # more to sweep (resumable uploads), as (now, full)

    # -- upload ------------------------------------------------------------------

    def upload(self, name: str, chunks: Iterable[bytes], fields: Callable[[], Mapping[str, str]],
               now: float | None = None) -> Uploaded:
        """Store ``chunks`` encrypted. ``fields`` is read again after the body, so form fields may follow the file."""
        now = int(time.time() if now is None else now)
        early = self._options(fields())  # fail fast on the options known before the body
        file_key = secrets.token_bytes(stream.KEY_SIZE)
        storage_name = secrets.token_urlsafe(32)
        counter = _Counter(chunks, self.limits.max_upload_bytes)
        state = lifecycle.new(now + early.expires_in, early.max_downloads)
        self.storage.put(storage_name, stream.encrypt(file_key, counter), state)
        try:
            opts = self._options(fields())
            expires_at = now + opts.expires_in
            if (opts.expires_in, opts.max_downloads) != (early.expires_in, early.max_downloads):
                self.storage.update_state(storage_name, lambda s: {**s, "exp": expires_at, "max": opts.max_downloads})
            salt, key = (None, file_key) if opts.passphrase is None else _wrap(file_key, opts.passphrase)
        except BaseException:
            self.storage.delete(storage_name)
            raise
        return self._uploaded(names.clean(name), storage_name, key, salt, now, expires_at, counter.size, opts)

    def issue(self, name: str, storage_name: str, file_key: bytes, created_at: int, size: int,
              opts: options.Options) -> Uploaded:
        """The answer to a finished upload, its tokens issued afresh (a resumable upload asks again)."""
        salt, key = (None, file_key) if opts.passphrase is None else _wrap(file_key, opts.passphrase)
        return self._uploaded(name, storage_name, key, salt, created_at, created_at + opts.expires_in, size, opts)

    def _uploaded(self, name: str, storage_name: str, key: bytes, salt: bytes | None, now: int, expires_at: int,
                  size: int, opts: options.Options) -> Uploaded:
        claims = tokens.FileClaims(name, storage_name, key, now, expires_at, salt)
        owner = tokens.OwnerClaims(storage_name, now, expires_at)
        return Uploaded(tokens.issue(claims, self.keyring), tokens.issue(owner, self.keyring), claims.name,
                        size, _iso(expires_at), opts.max_downloads, salt is not None)

    def _options(self, raw: Mapping[str, str]) -> options.Options:
        return options.parse(raw, self.limits.default_expires_in, self.limits.max_expires_in)

    # -- info / retrieve ---------------------------------------------------------------

    def info(self, token: str, passphrase: str | None = None, now: float | None = None) -> FileInfo:
        claims, file_key, state = self._open(token, passphrase, now)
        blob = self._open_blob(claims.storage_name, now)
        try:
            size = stream.open_blob(file_key, blob.read, blob.size).size
        except stream.DecryptError:
            raise CorruptFile() from None
        finally:
            blob.close()
        return FileInfo(claims.name, size, _iso(claims.created_at), _iso(claims.expires_at),
                        lifecycle.downloads_left(state), lifecycle.downloads_in_progress(state, _now(now)))

    def retrieve(self, token: str, passphrase: str | None = None, now: float | None = None) -> Download:
        """Reserve a slot if the file has a limit, then check the header and first chunk before anything is sent."""
        claims, file_key, state = self._open(token, passphrase, now)
        name = claims.storage_name
        lease = None
        if state["max"] is not None:
            lease = secrets.token_urlsafe(9)
            self.storage.update_state(name, lambda s: lifecycle.reserve(s, lease, _now(now)))
        try:
            blob = self._open_blob(name, now)
        except AppError:
            self._release(name, lease)
            raise
        try:
            plaintext = stream.open_blob(file_key, blob.read, blob.size)
            chunks = iter(plaintext)
            first = next(chunks)
        except stream.DecryptError:
            blob.close()
            self._release(name, lease)
            raise CorruptFile() from None
        download = self._stream(name, lease, plaintext.size, first, chunks)
        return Download(claims.name, plaintext.size, download, blob.close)

    def _stream(self, name: str, lease: str | None, size: int, first: bytes,
                rest: Iterator[bytes]) -> Iterator[bytes]:
        """Yield the plaintext. A limited download counts once the caller asks for more after the last chunk,
        or when it ends early after more than half the plaintext was handed out (``lifecycle.counts``)."""
        completed, handed_out = False, 0
        try:
            renewed = time.monotonic()
            handed_out += len(first)
            yield first
            for chunk in rest:
                if lease is not None and time.monotonic() - renewed > lifecycle.RENEW_EVERY:
                    self.storage.update_state(name, lambda s: lifecycle.renew(s, lease, time.time()))
                    renewed = time.monotonic()
                handed_out += len(chunk)
                yield chunk
            completed = True
        finally:
            if lease is not None and (completed or lifecycle.counts(handed_out, size)):
                self._complete(name, lease)
            else:
                self._release(name, lease)

    def _complete(self, name: str, lease: str) -> None:
        """Count a download whose last byte was sent. Raising here would cut a connection whose answer is
        complete, which a proxy may already be reusing for another request: a file deleted meanwhile by its
        owner has nothing left to count."""
        try:
            state = self.storage.update_state(name, lambda s: lifecycle.complete(s, lease))
        except NotFound:
            return
        if state["gone"]:
            self.storage.delete_blob(name)

    def _open_blob(self, name: str, now: float | None) -> Blob:
        """Open the blob; if it vanished since the state was read, say why (a last download or expiry)."""
        try:
            return self.storage.open(name)
        except NotFound:
            lifecycle.check_available(self.storage.read_state(name), _now(now))
            raise

    def _release(self, name: str, lease: str | None) -> None:
        if lease is None:
            return
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing to release
            self.storage.update_state(name, lambda s: lifecycle.release(s, lease))

    def _open(self, token: str, passphrase: str | None, now: float | None):
        claims = tokens.verify(token, self.keyring)
        if not isinstance(claims, tokens.FileClaims):
            raise Forbidden("This is an owner token: it can delete the file but not download it.")
        now = _now(now)
        if claims.expires_at is not None and claims.expires_at <= now:
            raise Expired()
        state = self.storage.read_state(claims.storage_name)
        lifecycle.check_available(state, now)
        return claims, self._file_key(claims, state, passphrase, now), state

    def _file_key(self, claims: tokens.FileClaims, state: dict, passphrase: str | None, now: float) -> bytes:
        if claims.passphrase_salt is None:
            return claims.file_key
        if not passphrase:
            raise PassphraseRequired()
        lifecycle.check_attempts(state, now)
        try:
            return pp.unwrap(claims.file_key, claims.passphrase_salt, options.passphrase(passphrase))
        except pp.Busy:
            raise Busy() from None
        except pp.WrongPassphrase:
            self.storage.update_state(claims.storage_name, lambda s: lifecycle.record_failure(s, now))
            raise WrongPassphrase() from None

    # -- delete / sweep -------------------------------------------------------------

    def delete(self, token: str) -> None:
        claims = tokens.verify(token, self.keyring)
        if not isinstance(claims, tokens.OwnerClaims):
            raise Forbidden()
        if not self.storage.delete(claims.storage_name):
            raise NotFound()

    def sweep(self, now: float | None = None, full: bool = False) -> int:
        """Delete expired files, and the blobs that used-up files still hold; ``full`` also dead writers' leftovers.

        A regular sweep looks only at what ``storage.expired`` yields, so it costs what expired, not
        what is stored. A full sweep reads every state: it reconciles whatever the expiry indexes
        missed, and the sweeper runs one at start and then daily (docs/scaling.md).
        """
        now = _now(now)
        removed = self.storage.sweep_temp() if full else 0
        for name in list(self.storage.names()) if full else self.storage.expired(now):
            try:
                state = self.storage.read_state(name)
            except NotFound:
                continue
            if lifecycle.is_sweepable(state, now):
                removed += self.storage.delete(name)
            elif state["gone"]:
                removed += self.storage.delete_blob(name)  # a crash between the last download and its delete
        return removed + sum(sweep(now, full) for sweep in self.sweeps)

    def ping(self) -> None:
        self.storage.ping()


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


def _wrap(file_key: bytes, passphrase: str) -> tuple[bytes, bytes]:
    try:
        return pp.wrap(file_key, passphrase)
    except pp.Busy:
        raise Busy() from None


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
