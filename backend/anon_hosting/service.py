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
import itertools
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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
from .results import Download, FileInfo, Limits, Uploaded
from .storage import Blob, Storage


class FileService:
    def __init__(self, storage: Storage, keyring: KeyRing, limits: Limits):
        from .bundles import Bundles  # it builds on this class: imported once this module is
        self.storage, self.keyring, self.limits, self.bundles = storage, keyring, limits, Bundles(self)
        self.sweeps: list[Callable[[float, bool], int]] = []  # more to sweep (resumable uploads), as (now, full)

    # -- upload ------------------------------------------------------------------

    def upload(self, name: str, chunks: Iterable[bytes], fields: Callable[[], Mapping[str, str]],
               now: float | None = None) -> Uploaded:
        """Store ``chunks`` encrypted. ``fields`` is read again after the body, so form fields may follow the file."""
        now = int(time.time() if now is None else now)
        early = self.options(fields())  # fail fast on the options known before the body
        storage_name, state = secrets.token_urlsafe(32), lifecycle.new(now + early.expires_in, early.max_downloads)
        file_key, size = self.store(storage_name, chunks, state, self.limits.max_upload_bytes)
        return self.issue(name, storage_name, file_key, size, early, fields, now)

    def store(self, storage_name: str, chunks: Iterable[bytes], state: dict, limit: int) -> tuple[bytes, int]:
        """Encrypt ``chunks`` (at most ``limit`` bytes) under a fresh key into ``storage_name``: (key, size)."""
        file_key = secrets.token_bytes(stream.KEY_SIZE)
        counter = _Counter(chunks, limit)
        self.storage.put(storage_name, stream.encrypt(file_key, counter), state)
        return file_key, counter.size

    def issue(self, name: str, storage_name: str, file_key: bytes, size: int, early: options.Options,
              fields: Callable[[], Mapping[str, str]], now: int) -> Uploaded:
        """The tokens of a stored file, under the options as they stand after the body (deleted if they fail)."""
        try:
            opts = self.options(fields())
            expires_at = now + opts.expires_in
            if (opts.expires_in, opts.max_downloads) != (early.expires_in, early.max_downloads):
                self.storage.update_state(storage_name, lambda s: {**s, "exp": expires_at, "max": opts.max_downloads})
            salt, key = (None, file_key) if opts.passphrase is None else wrap(file_key, opts.passphrase)
        except BaseException:
            self.storage.delete(storage_name)
            raise
        return self._uploaded(names.clean(name), storage_name, key, salt, now, expires_at, size, opts)

    def reissue(self, name: str, storage_name: str, file_key: bytes, created_at: int, size: int,
                opts: options.Options) -> Uploaded:
        """The answer to a finished resumable upload, its tokens issued afresh (its client may ask again)."""
        salt, key = (None, file_key) if opts.passphrase is None else wrap(file_key, opts.passphrase)
        return self._uploaded(name, storage_name, key, salt, created_at, created_at + opts.expires_in, size, opts)

    def _uploaded(self, name: str, storage_name: str, key: bytes, salt: bytes | None, now: int, expires_at: int,
                  size: int, opts: options.Options) -> Uploaded:
        claims = tokens.FileClaims(name, storage_name, key, now, expires_at, salt)
        owner = tokens.OwnerClaims(storage_name, now, expires_at)
        return Uploaded(tokens.issue(claims, self.keyring), tokens.issue(owner, self.keyring), claims.name,
                        size, iso(expires_at), opts.max_downloads, salt is not None)

    def options(self, raw: Mapping[str, str]) -> options.Options:
        return options.parse(raw, self.limits.default_expires_in, self.limits.max_expires_in)

    # -- info / retrieve ---------------------------------------------------------------

    def info(self, token: str, passphrase: str | None = None, now: float | None = None) -> FileInfo:
        claims = tokens.verify(token, self.keyring)
        if isinstance(claims, tokens.BundleClaims):
            return self.bundles.info(claims, passphrase, now)
        claims, file_key, state = self.open(claims, passphrase, now)
        blob = self.open_blob(claims.storage_name, now)
        try:
            size = stream.open_blob(file_key, blob.read, blob.size).size
        except stream.DecryptError:
            raise CorruptFile() from None
        finally:
            blob.close()
        return FileInfo(claims.name, size, iso(claims.created_at), iso(claims.expires_at),
                        lifecycle.downloads_left(state), lifecycle.downloads_in_progress(state, now_or_clock(now)))

    def retrieve(self, token: str, passphrase: str | None = None, now: float | None = None,
                 file: int | None = None) -> Download:
        """Reserve a slot if the file has a limit; check the header and first chunk before anything is sent."""
        claims = tokens.verify(token, self.keyring)
        if isinstance(claims, tokens.BundleClaims):
            return self.bundles.retrieve(claims, passphrase, now, file)
        claims, file_key, state = self.open(claims, passphrase, now)
        name = claims.storage_name
        lease = None
        if state["max"] is not None:
            lease = secrets.token_urlsafe(9)
            self.storage.update_state(name, lambda s: lifecycle.reserve(s, lease, now_or_clock(now)))
        try:
            blob = self.open_blob(name, now)
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
        def renew() -> None:
            self.storage.update_state(name, lambda s: lifecycle.renew(s, lease, time.time()))

        def done(counted: bool) -> None:
            self._complete(name, lease) if lease is not None and counted else self._release(name, lease)
        return leased([first], rest, size, renew if lease is not None else None, done)

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

    def open_blob(self, name: str, now: float | None) -> Blob:
        """Open the blob; if it vanished since the state was read, say why (a last download or expiry)."""
        try:
            return self.storage.open(name)
        except NotFound:
            lifecycle.check_available(self.storage.read_state(name), now_or_clock(now))
            raise

    def _release(self, name: str, lease: str | None) -> None:
        with contextlib.suppress(NotFound):  # deleted meanwhile: nothing to release
            if lease is not None:
                self.storage.update_state(name, lambda s: lifecycle.release(s, lease))

    def open(self, claims: tokens.FileClaims | tokens.BundleClaims | tokens.OwnerClaims, passphrase: str | None,
             now: float | None) -> tuple[tokens.FileClaims | tokens.BundleClaims, bytes, dict]:
        """The claims, the (unwrapped) key and the state of a download token that is still available."""
        if isinstance(claims, tokens.OwnerClaims):
            raise Forbidden("This is an owner token: it can delete the file but not download it.")
        now = now_or_clock(now)
        if claims.expires_at is not None and claims.expires_at <= now:
            raise Expired()
        state = self.storage.read_state(claims.storage_name)
        lifecycle.check_available(state, now)
        return claims, self._file_key(claims, state, passphrase, now), state

    def _file_key(self, claims: tokens.FileClaims | tokens.BundleClaims, state: dict, passphrase: str | None,
                  now: float) -> bytes:
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
        if not claims.bundle and self.storage.read_state(claims.storage_name).get(lifecycle.MEMBER):
            raise NotFound()  # a file that joined a bundle goes with its bundle only
        self.bundles.delete_members(claims)
        if not self.storage.delete(claims.storage_name):
            raise NotFound()

    def sweep(self, now: float | None = None, full: bool = False) -> int:
        """Delete expired files, and the blobs that used-up files still hold; ``full`` also dead writers' leftovers.

        A regular sweep looks only at what ``storage.expired`` yields, so it costs what expired, not
        what is stored. A full sweep reads every state: it reconciles whatever the expiry indexes
        missed, and the sweeper runs one at start and then daily (docs/costs.md).
        """
        now = now_or_clock(now)
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


def leased(first: Iterable[bytes], rest: Iterable[bytes], size: int, renew: Callable[[], None] | None,
           done: Callable[[bool], None]) -> Iterator[bytes]:
    """Yield a download's plaintext, calling ``renew`` every ``lifecycle.RENEW_EVERY`` seconds, then
    ``done(counted)``: counted once the caller asks for more after the last chunk, or when it ends early
    after more than half of ``size`` was handed out (``lifecycle.counts``)."""
    completed, handed_out, renewed = False, 0, time.monotonic()
    try:
        for chunk in itertools.chain(first, rest):
            if renew is not None and time.monotonic() - renewed > lifecycle.RENEW_EVERY:
                renew()
                renewed = time.monotonic()
            handed_out += len(chunk)
            yield chunk
        completed = True
    finally:
        done(completed or lifecycle.counts(handed_out, size))


def wrap(file_key: bytes, passphrase: str) -> tuple[bytes, bytes]:
    try:
        return pp.wrap(file_key, passphrase)
    except pp.Busy:
        raise Busy() from None


def now_or_clock(now: float | None) -> float:
    return time.time() if now is None else now


def iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")
