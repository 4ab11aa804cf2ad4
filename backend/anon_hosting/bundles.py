"""Bundles: several files behind one token, retrieved one by one or as one streamed zip.

Contract: ``Bundles(files)`` builds on a ``FileService`` (its storage, keys and limits), which makes one.
``upload(parts, fields)`` stores the ``(name, chunks)`` parts of one multipart upload: one part is a
plain file, as ``FileService.upload`` makes it; several make a bundle of at most ``max_bundle_files`` files and
``max_upload_bytes`` in all. A bundle is its *manifest* (each file's path, size and key, as JSON
encrypted in the STREAM format under a fresh key and stored under a random name, with the bundle's
one state object, ``bundle_state``) and one blob per file, stored under a name derived from the
manifest's (``bundle_state.member_name``), so that the owner token, which holds no key, can delete every
blob, with a state whose expiry is the bundle's and whose counters are never used. The download token
holds the manifest's name and key. ``seal`` stores a manifest for files already stored, under the
storage names it is given (``bundle_join``).
``info``/``retrieve`` take verified ``BundleClaims``; ``retrieve`` streams file ``file`` or, without
it, the zip of all files (``bundle_zip``), counting a download on each file it sends.
``delete_members(owner_claims)`` deletes the file blobs of the bundle an owner token names.
"""

import base64
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from . import bundle_state, lifecycle, names, tokens
from .bundle_state import member_name, member_names
from .bundle_zip import zip_of
from .crypto import stream
from .errors import BadRequest, CorruptFile, NotFound, TooLarge
from .results import Download, FileInfo, Uploaded
from .service import FileService, iso, leased, now_or_clock, wrap

MANIFEST_VERSION = 1
SMALL_FILE = 1 << 20  # a file up to this size is read whole, and stored with others in one batch
BATCH_BYTES = 8 << 20  # the most sealed bytes held before a batch is stored
ZIP_TYPE = "application/zip"


@dataclass(frozen=True)
class BundleUploaded(Uploaded):
    files: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class BundleInfo(FileInfo):
    files: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Member:
    path: str
    size: int
    key: bytes


class Bundles:
    def __init__(self, files: FileService):
        self.files = files  # FileService makes its Bundles before its own attributes are set

    @property
    def storage(self):
        return self.files.storage

    @property
    def max_files(self) -> int:
        return self.files.limits.max_bundle_files

    # -- upload ------------------------------------------------------------------

    def upload(self, parts: Iterator[tuple[str, Iterable[bytes]]], fields: Callable[[], Mapping[str, str]],
               now: float | None = None) -> Uploaded:
        now = int(time.time() if now is None else now)
        first_name, first_chunks = next(parts)
        early = self.files.options(fields())
        manifest = secrets.token_urlsafe(32)
        used = [member_name(manifest, 0)]  # every name a put may have stored under
        try:
            state = lifecycle.new(now + early.expires_in, early.max_downloads)
            key, size = self.files.store(used[0], first_chunks, state, self.files.limits.max_upload_bytes)
            following = next(parts, None)
            if following is None:
                return self.files.issue(first_name, used[0], key, size, early, fields, now)
            first = Member(names.clean_path(first_name), size, key)
            state = lifecycle.new(now + early.expires_in, None)
            members, batch = self._store_rest(manifest, first, following, parts, state, used)
            return self.seal(manifest, members, batch, early, fields, now)
        except BaseException:
            for name in used:
                self.storage.delete(name)
            self.storage.delete(manifest)
            raise

    def _store_rest(self, manifest: str, first: Member, following: tuple[str, Iterable[bytes]] | None,
                    parts: Iterator[tuple[str, Iterable[bytes]]], state: dict,
                    used: list[str]) -> tuple[list[Member], list[tuple[str, bytes, dict]]]:
        """Store the files after the first. A small one is read whole and sealed in memory, and up to
        ``BATCH_BYTES`` of them are stored together (``storage.put_many``: one commit on local disk);
        the last batch is returned, to be stored with the manifest."""
        limit, members, batch, total, batched = self.files.limits.max_upload_bytes, [first], [], first.size, 0
        while following is not None:
            if len(members) >= self.max_files:
                raise TooLarge(f"A bundle can hold at most {self.max_files} files.")
            path, chunks = following
            used.append(member_name(manifest, len(members)))
            head, rest = _head(chunks, SMALL_FILE)
            total += len(head)
            if rest is None and total <= limit:
                key = secrets.token_bytes(stream.KEY_SIZE)
                batch.append((used[-1], b"".join(stream.encrypt(key, [head])), state))
                batched += len(batch[-1][1])
                members.append(Member(names.clean_path(path), len(head), key))
            elif rest is None:
                raise TooLarge()
            else:
                key, size = self.files.store(used[-1], _chain(head, rest), state, limit - total + len(head))
                members.append(Member(names.clean_path(path), size, key))
                total += size - len(head)
            if batched >= BATCH_BYTES:
                self.storage.put_many(batch)
                batch, batched = [], 0
            following = next(parts, None)
        return members, batch

    def seal(self, manifest: str, members: list[Member], batch: list, early, fields, now: int,
             stored_as: list[str] | None = None) -> BundleUploaded:
        """Store the manifest with the bundle's state (and the files of ``batch``), under the options as
        they stand after the body; ``stored_as`` lists the files' storage names unless they are derived."""
        opts = self.files.options(fields())
        expires_at = now + opts.expires_in
        if opts.expires_in != early.expires_in:
            batch = [(name, blob, {**state, "exp": expires_at}) for name, blob, state in batch]
            every = stored_as or [member_name(manifest, i) for i in range(len(members))]
            stored = set(every) - {name for name, _, _ in batch}
            for name in stored:
                self.storage.update_state(name, lambda s: {**s, "exp": expires_at})
        title = _zip_name(fields().get("bundle_name", ""), members)
        body = json.dumps({"v": MANIFEST_VERSION, "name": title, "files": [
            {"n": m.path, "z": m.size, "k": base64.urlsafe_b64encode(m.key).decode()} for m in members]},
            separators=(",", ":"), ensure_ascii=False).encode()
        manifest_key = secrets.token_bytes(stream.KEY_SIZE)
        state = bundle_state.new(expires_at, opts.max_downloads, len(members), stored_as)
        self.storage.put_many([*batch, (manifest, b"".join(stream.encrypt(manifest_key, [body])), state)])
        salt, key = (None, manifest_key) if opts.passphrase is None else wrap(manifest_key, opts.passphrase)
        claims = tokens.BundleClaims(manifest, key, now, expires_at, salt)
        owner = tokens.OwnerClaims(manifest, now, expires_at, bundle=True)
        listing = [{"index": i, "name": m.path, "size": m.size} for i, m in enumerate(members)]
        return BundleUploaded(tokens.issue(claims, self.files.keyring), tokens.issue(owner, self.files.keyring),
                              title, sum(m.size for m in members), iso(expires_at), opts.max_downloads,
                              salt is not None, "bundle", listing)

    # -- info / retrieve ---------------------------------------------------------------

    def info(self, claims: tokens.BundleClaims, passphrase: str | None, now: float | None) -> BundleInfo:
        claims, key, state = self.files.open(claims, passphrase, now)
        title, members = self._manifest(claims.storage_name, key, now)
        left = bundle_state.downloads_left(state)
        listing = [{"index": i, "name": m.path, "size": m.size, "downloads_left": left[i]}
                   for i, m in enumerate(members)]
        remaining = None if state["max"] is None else min(left)
        return BundleInfo(title, sum(m.size for m in members), iso(claims.created_at), iso(claims.expires_at),
                          remaining, bundle_state.downloads_in_progress(state, now_or_clock(now)), "bundle", listing)

    def retrieve(self, claims: tokens.BundleClaims, passphrase: str | None, now: float | None,
                 file: int | None) -> Download:
        """Reserve a slot on each file sent, then check the manifest (and a single file's first chunk)
        before anything is sent; a blob that fails later cuts the answer."""
        claims, key, state = self.files.open(claims, passphrase, now)
        name = claims.storage_name
        title, members = self._manifest(name, key, now)
        stored = member_names(name, state)
        if file is not None and not 0 <= file < len(members):
            raise BadRequest(f"This bundle has files 0 to {len(members) - 1}.")
        indices = list(range(len(members))) if file is None else [file]
        lease = None
        if state["max"] is not None:
            lease = secrets.token_urlsafe(9)
            self.storage.update_state(name, lambda s: bundle_state.reserve(s, lease, indices, now_or_clock(now)))
        try:
            if file is None:
                chunks, size = zip_of((m.path, m.size, self._opener(stored[i], m)) for i, m in enumerate(members))
                first, rest, close = b"", iter(chunks), _nothing
            else:
                size = members[file].size
                first, rest, close = self._first_chunk(stored[file], members[file])
        except BaseException:
            self._release(name, lease)
            raise
        sent = self._stream(name, lease, indices, size, first, rest)
        if file is None:
            return Download(title, size, sent, close, ZIP_TYPE)
        return Download(members[file].path.rpartition("/")[2], size, sent, close)

    def _first_chunk(self, stored_as: str, member: Member):
        blob = self._open_member(stored_as)
        try:
            plaintext = iter(stream.open_blob(member.key, blob.read, blob.size))
            return next(plaintext, b""), plaintext, blob.close
        except stream.DecryptError:
            blob.close()
            raise CorruptFile() from None

    def _opener(self, stored_as: str, member: Member) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            blob = self._open_member(stored_as)
            try:
                yield from stream.open_blob(member.key, blob.read, blob.size)
            finally:
                blob.close()
        return chunks

    def _open_member(self, stored_as: str):
        try:
            return self.storage.open(stored_as)
        except NotFound:
            raise CorruptFile() from None  # a file of a live bundle is gone: the bundle is broken

    def _stream(self, name: str, lease: str | None, indices: list[int], size: int, first: bytes,
                rest: Iterator[bytes]) -> Iterator[bytes]:
        def renew() -> None:
            self.storage.update_state(name, lambda s: bundle_state.renew(s, lease, time.time()))

        def done(counted: bool) -> None:
            self._complete(name, lease, indices) if lease is not None and counted else self._release(name, lease)
        return leased([first] if first else [], rest, size, renew if lease is not None else None, done)

    def _complete(self, name: str, lease: str, indices: list[int]) -> None:
        try:
            state = self.storage.update_state(name, lambda s: bundle_state.complete(s, lease, indices))
        except NotFound:
            return  # deleted by its owner meanwhile
        stored = member_names(name, state)
        for i in set(bundle_state.used_up(state)) & set(indices):
            self.storage.delete(stored[i])
        if state["gone"]:
            self.storage.delete_blob(name)

    def _release(self, name: str, lease: str | None) -> None:
        if lease is not None:
            with contextlib.suppress(NotFound):
                self.storage.update_state(name, lambda s: bundle_state.release(s, lease))

    def _manifest(self, name: str, key: bytes, now: float | None) -> tuple[str, list[Member]]:
        blob = self.files.open_blob(name, now)
        try:
            body = b"".join(stream.open_blob(key, blob.read, blob.size))
        except stream.DecryptError:
            raise CorruptFile() from None
        finally:
            blob.close()
        manifest = json.loads(body)
        return manifest["name"], [Member(f["n"], f["z"], base64.urlsafe_b64decode(f["k"])) for f in manifest["files"]]

    # -- delete ------------------------------------------------------------------

    def delete_members(self, owner: tokens.OwnerClaims) -> None:
        """Delete the file blobs of the bundle an owner token names (nothing for a plain file's)."""
        try:
            state = self.storage.read_state(owner.storage_name) if owner.bundle else {}
        except NotFound:
            return
        for stored_as in member_names(owner.storage_name, state) if bundle_state.is_bundle(state) else []:
            self.storage.delete(stored_as)


def _zip_name(requested: str, members: list[Member]) -> str:
    """The zip's name, cleaned like a file name (so at most 200 characters, keeping ``.zip``)."""
    title = requested.strip() or f"{members[0].path.rpartition('/')[2]} and {len(members) - 1} more"
    return names.clean(title if title.lower().endswith(".zip") else f"{title}.zip")


def _head(chunks: Iterable[bytes], size: int) -> tuple[bytes, Iterator[bytes] | None]:
    """Up to ``size`` bytes and more of ``chunks``, and the iterator for the rest (None when there is none)."""
    it, head = iter(chunks), bytearray()
    for chunk in it:
        head += chunk
        if len(head) > size:
            return bytes(head), it
    return bytes(head), None


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _nothing() -> None:
    return None
