"""Resumable uploads (tus 1.0): create, offset, append, result, terminate and sweep, the key held by the client.

Contract: every method takes the upload's id and the client's secret (32 to 64
bytes) and raises ``NotFound`` for an unknown id, a wrong secret and an expired
upload alike, changing nothing. The file key is random, as for ``FileService``;
at rest it exists only sealed under a key derived from the secret
(``crypto.upload_secret``), beside the sealed name and options, a verifier of
the secret, the stream salt, the length and the expiry (``exp``): nothing that
opens the blob without the secret. The blob is the STREAM format of
``crypto.stream``; chunk ``i`` is sealed on its own, so a resumed upload writes
exactly the bytes one uninterrupted upload would. An offset is always a whole
number of chunks that the store holds durably (``storage.partials``), never the
last chunk: that one is sealed and stored with ``finish``, in the request that
brings the upload's last byte, which answers the tokens (``FileService.issue``).
A finished upload keeps its record ``ttl`` seconds, for ``result``, and then
answers ``NotFound``; an unfinished one lives ``ttl`` seconds after its last PATCH
(to within ``EXPIRY_STEP``). The stored blob, not the record's ``done``, says
whether an upload is finished: a process killed between storing it and marking
the record leaves an upload that the next request on it (any method) marks and
answers as finished, and that the sweeper, once the record expires unmarked
(no token was ever issued for it), deletes with the record. ``finished`` opens
a finished upload's file (its name, size and key) for a bundle to join
(``UploadUnfinished`` before its last byte), and ``consume`` drops its record
once it has joined.

A bundle member's upload (``MEMBER_KEY`` in its metadata) stores its file as a pending member
(``lifecycle.pending_member``) that lives ``ttl`` seconds, as its record, and answers ``MemberUploaded``:
no token opens it, so only a bundle's join (``finished``, ``consume``) makes it reachable.
"""

import base64
import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from . import lifecycle, names, options
from .crypto import stream
from .crypto.upload_secret import UploadKeys
from .errors import BadRequest, Conflict, Locked, NotFound, TooLarge, UploadUnfinished
from .results import MemberUploaded, Uploaded
from .service import FileService, iso
from .storage import NAME_PATTERN
from .storage.partials import Layout, Partials

CHUNK = stream.CHUNK_SIZE
EXPIRY_STEP = 60  # seconds: a PATCH moves the expiry on only when it is this much behind (a record write saved)
_KEY, _OPTIONS = b"file key", b"options"
MEMBER_KEY = "bundle"  # the Upload-Metadata key of a bundle member's upload


@dataclass(frozen=True)
class Finished:
    upload_id: str
    name: str
    size: int
    key: bytes


@dataclass(frozen=True)
class Progress:
    upload_id: str
    offset: int
    length: int
    expires_at: int
    result: Uploaded | MemberUploaded | None = None


class ResumableUploads:
    def __init__(self, files: FileService, partials: Partials, ttl: int):
        self.files, self.partials, self.ttl = files, partials, ttl
        files.sweeps.append(self.sweep)

    def create(self, secret: bytes, length: int, metadata: Mapping[str, str], now: float | None = None) -> Progress:
        now = int(_now(now))
        if length > self.files.limits.max_upload_bytes:
            raise TooLarge()
        opts = self.files.options(metadata)  # the same option rules as a plain upload
        upload_id = secrets.token_urlsafe(32)
        keys = UploadKeys(secret, upload_id)
        meta = {"name": names.clean(metadata.get("filename", "")), "expires_in": opts.expires_in,
                "max_downloads": opts.max_downloads, "passphrase": opts.passphrase,
                **({"member": True} if MEMBER_KEY in metadata else {})}
        record = {"v": 1, "length": length, "exp": now + self.ttl, "done": None,
                  "salt": _b64(os.urandom(stream.SALT_SIZE)), "verifier": _b64(keys.verifier),
                  "key": _b64(keys.seal(_KEY, secrets.token_bytes(stream.KEY_SIZE))),
                  "options": _b64(keys.seal(_OPTIONS, json.dumps(meta).encode()))}
        self.partials.create(upload_id, record)
        return Progress(upload_id, 0, length, record["exp"])

    def offset(self, upload_id: str, secret: bytes, now: float | None = None) -> Progress:
        record, _ = self._open(upload_id, secret, now)
        length = record["length"]
        if record["done"] is not None:
            return Progress(upload_id, length, length, record["exp"])
        units = self.partials.committed(upload_id, _layout(length))
        return Progress(upload_id, units * CHUNK, length, record["exp"])

    def append(self, upload_id: str, secret: bytes, offset: int, chunks: Iterable[bytes],
               now: float | None = None) -> Progress:
        """Seal and store the bytes from ``offset``; a body cut short keeps its whole chunks and re-raises."""
        now = int(_now(now))
        record, keys = self._open(upload_id, secret, now)
        length = record["length"]
        if record["done"] is not None:
            if offset != length:
                raise Conflict()
            return self._finished(upload_id, record, keys)
        layout = _layout(length)
        with self.partials.writer(upload_id, layout) as writer:
            if offset != writer.committed * CHUNK:
                raise Conflict()
            if record["exp"] < now + self.ttl - EXPIRY_STEP:
                record["exp"] = now + self.ttl
                self.partials.save(upload_id, record)
            sealer = stream.Sealer(keys.open(_KEY, _unb64(record["key"])), _unb64(record["salt"]))
            counter, finishing = writer.committed, False
            try:
                for block in stream.blocks(_bounded(chunks, length - offset), CHUNK):
                    last = counter == layout.max_units
                    if len(block) < (length - counter * CHUNK if last else CHUNK):
                        break  # a short tail: sent again from the offset
                    data = sealer.seal(counter, block, last)
                    if counter == 0:
                        data = sealer.header + data
                    if last:
                        finishing = True
                        return self._finish(upload_id, record, keys, writer, data, now)
                    writer.append(data)
                    counter += 1
            finally:
                if not finishing:  # keep what came whole
                    committed = writer.sync()
        return Progress(upload_id, committed * CHUNK, length, record["exp"])

    def result(self, upload_id: str, secret: bytes, now: float | None = None) -> Uploaded | MemberUploaded:
        record, keys = self._open(upload_id, secret, now)
        if record["done"] is None:
            raise Conflict("The upload is not finished yet.")
        return self._finished(upload_id, record, keys).result

    def finished(self, upload_id: str, secret: bytes, now: float | None = None) -> Finished:
        record, keys = self._open(upload_id, secret, now)
        if record["done"] is None:
            raise UploadUnfinished()
        key = keys.open(_KEY, _unb64(record["key"]))
        return Finished(upload_id, _meta(record, keys)["name"], record["length"], key)

    def consume(self, upload_id: str) -> None:
        """Drop a finished upload's record: its file now belongs to a bundle, and its id answers 404."""
        self.partials.drop(upload_id)

    def terminate(self, upload_id: str, secret: bytes, now: float | None = None) -> None:
        """Drop the upload; a finished member's file goes too, unless a join took it first."""
        record, keys = self._open(upload_id, secret, now)
        if not self.partials.drop(upload_id):
            raise NotFound()
        if record["done"] is not None and _meta(record, keys).get("member"):
            with contextlib.suppress(NotFound):  # joined meanwhile: it is the bundle's now
                self.files.storage.update_state(upload_id, lifecycle.withdraw)
                self.files.storage.delete(upload_id)

    def sweep(self, now: float | None = None, full: bool = False) -> int:
        """Drop the records (and an unfinished upload's data) past their expiry; skip one being written."""
        now, removed = _now(now), 0
        for upload_id in list(self.partials.ids()):
            try:
                record = self.partials.record(upload_id)
                if record["exp"] <= now and self.partials.drop(upload_id, wait=0):
                    removed += 1 + (record["done"] is None and self._orphan_deleted(upload_id))
            except (NotFound, Locked):  # gone meanwhile, or being written: its PATCH renews it
                continue
        return removed

    def _finish(self, upload_id, record, keys, writer, last: bytes, now: int) -> Progress:
        meta = _meta(record, keys)
        writer.finish(upload_id, self._stored_state(meta, now), last)
        record.update(done=now, exp=now + self.ttl)
        self.partials.save(upload_id, record)
        return self._finished(upload_id, record, keys)

    def _orphan_deleted(self, upload_id: str) -> bool:
        """Delete the file of a dropped record that a killed finish stored but never marked (no token names it)."""
        return self.partials.stored(upload_id) is not None and self.files.storage.delete(upload_id)

    def _mark_stored(self, upload_id: str, record: dict, keys: UploadKeys) -> None:
        """Mark ``record`` done if its blob is stored (a finish killed before it marked it) and tidy its data."""
        state = self.partials.stored(upload_id)
        if state is None:
            return
        meta = _meta(record, keys)
        done = state["exp"] - self._lifetime(meta)  # ``_finish`` made the state's expiry from its own ``now``
        record.update(done=done, exp=done + self.ttl)
        self.partials.save(upload_id, record)
        self.partials.discard(upload_id)

    def _lifetime(self, meta: dict) -> int:
        """Seconds the stored file lives after the finish: a member's waits for its join as long as its record."""
        return self.ttl if meta.get("member") else meta["expires_in"]

    def _stored_state(self, meta: dict, now: int) -> dict:
        if meta.get("member"):
            return lifecycle.pending_member(now + self._lifetime(meta))
        return lifecycle.new(now + meta["expires_in"], meta["max_downloads"])

    def _finished(self, upload_id: str, record: dict, keys: UploadKeys) -> Progress:
        meta = _meta(record, keys)
        if meta.get("member"):
            member = MemberUploaded(meta["name"], record["length"], iso(record["exp"]))
            return Progress(upload_id, record["length"], record["length"], record["exp"], member)
        opts = options.Options(meta["expires_in"], meta["max_downloads"], meta["passphrase"])
        uploaded = self.files.reissue(meta["name"], upload_id, keys.open(_KEY, _unb64(record["key"])),
                                      record["done"], record["length"], opts)
        return Progress(upload_id, record["length"], record["length"], record["exp"], uploaded)

    def _open(self, upload_id: str, secret: bytes, now: float | None) -> tuple[dict, UploadKeys]:
        if not NAME_PATTERN.fullmatch(upload_id):
            raise NotFound()
        record = self.partials.record(upload_id)
        keys = UploadKeys(secret, upload_id)
        if not keys.matches(_unb64(record["verifier"])) or record["exp"] <= _now(now):
            raise NotFound()
        if record["done"] is None:
            self._mark_stored(upload_id, record, keys)
        return record, keys


def _meta(record: dict, keys: UploadKeys) -> dict:
    """The name and options sealed in ``record``."""
    return json.loads(keys.open(_OPTIONS, _unb64(record["options"])))


def _layout(length: int) -> Layout:
    """Chunks 0 .. n-2 are appended; chunk n-1, the last (maybe short, or empty for an empty file), finishes."""
    return Layout(stream.HEADER_SIZE, CHUNK + stream.TAG_SIZE, max(0, (length - 1) // CHUNK))


def _bounded(chunks: Iterable[bytes], limit: int) -> Iterable[bytes]:
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise BadRequest("The body goes past Upload-Length.")
        yield chunk


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def _now(now: float | None) -> float:
    return time.time() if now is None else now
