"""Joining finished resumable uploads into one bundle: the page's bundle, sent file by file through tus.

Contract: ``BundleJoin(bundles, uploads).join(entries, fields)`` takes ``Entry(upload_id, secret, path)``
items (``path`` None keeps the upload's own file name) and the bundle's option fields (those of a
multipart bundle: ``expires_in``, ``max_downloads``, ``passphrase``, ``bundle_name``), and answers what
a multipart bundle upload answers. It needs 2 to ``max_bundle_files`` distinct uploads of at most
``max_upload_bytes`` in all (else ``BadRequest`` or ``TooLarge``), each finished (else
``UploadUnfinished``) and opened by its secret (an unknown id, a wrong secret and an expired record are
one ``NotFound``). The files stay where the uploads stored them, under their upload ids, which the bundle
state lists (``bundle_state.member_names``). Each file's state becomes a member's (``lifecycle.enlist``):
the bundle's expiry, and no access through the upload's own tokens; then the upload records are dropped,
so the same upload never joins twice. A join that fails restores every state it changed and leaves the
records, so nothing is changed.
"""

import contextlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

from . import lifecycle, names
from .bundles import Bundles, BundleUploaded, Member
from .errors import BadRequest, TooLarge
from .resumable import ResumableUploads

MIN_FILES = 2


@dataclass(frozen=True)
class Entry:
    upload_id: str
    secret: bytes
    path: str | None = None


class BundleJoin:
    def __init__(self, bundles: Bundles, uploads: ResumableUploads):
        self.bundles, self.uploads = bundles, uploads

    def join(self, entries: list[Entry], fields: Mapping[str, str], now: float | None = None) -> BundleUploaded:
        now = int(time.time() if now is None else now)
        files = self.bundles.files
        if len(entries) > self.bundles.max_files:
            raise TooLarge(f"A bundle can hold at most {self.bundles.max_files} files.")
        if len(entries) < MIN_FILES:
            raise BadRequest(f"List at least {MIN_FILES} uploads: one finished upload is a file already.")
        if len({entry.upload_id for entry in entries}) < len(entries):
            raise BadRequest("Each upload may be listed once.")
        opts = files.options(fields)
        found = [self.uploads.finished(entry.upload_id, entry.secret, now) for entry in entries]
        if sum(upload.size for upload in found) > files.limits.max_upload_bytes:
            raise TooLarge()
        members = [Member(names.clean_path(entry.path if entry.path is not None else upload.name), upload.size,
                          upload.key) for entry, upload in zip(entries, found, strict=True)]
        manifest, before = secrets.token_urlsafe(32), {}
        try:
            for upload in found:
                before[upload.upload_id] = self._enlist(upload.upload_id, now + opts.expires_in, now)
            uploaded = self.bundles.seal(manifest, members, [], opts, lambda: fields, now, list(before))
        except BaseException:
            self._restore(before)
            files.storage.delete(manifest)
            raise
        for upload in found:
            self._consume(upload.upload_id)
        return uploaded

    def _enlist(self, stored_as: str, expires_at: int, now: int) -> dict:
        """Make the file a member (atomically, so two joins of one upload cannot both take it): its state before."""
        seen = {}

        def enlist(state: dict) -> dict:
            seen.update(state=state)
            return lifecycle.enlist(state, expires_at, now)
        self.bundles.storage.update_state(stored_as, enlist)
        return seen["state"]

    def _restore(self, before: dict[str, dict]) -> None:
        for stored_as, state in before.items():
            with contextlib.suppress(Exception):  # best effort: a file left a member is swept at its expiry
                self.bundles.storage.update_state(stored_as, lambda _, state=state: state)

    def _consume(self, upload_id: str) -> None:
        with contextlib.suppress(Exception):  # the bundle stands; a record left here is swept at its expiry
            self.uploads.consume(upload_id)
