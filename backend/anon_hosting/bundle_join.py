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
records, so nothing is changed. Each step runs over the files through ``storage.each`` (on S3, several
files at once).
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
        storage, expires_at = self.bundles.storage, now + opts.expires_in
        found = storage.each(lambda entry: self.uploads.finished(entry.upload_id, entry.secret, now), entries)
        if sum(upload.size for upload in found) > files.limits.max_upload_bytes:
            raise TooLarge()
        members = [Member(names.clean_path(entry.path if entry.path is not None else upload.name), upload.size,
                          upload.key) for entry, upload in zip(entries, found, strict=True)]
        manifest, before = secrets.token_urlsafe(32), {}
        try:
            # The first file alone, then the others at once: of racing joins of the same uploads, the one that
            # takes the first file takes them all, rather than each taking some and every one failing.
            enlisted = [self._enlist(found[0].upload_id, expires_at, now)]
            if enlisted[0][1] is None:
                enlisted += storage.each(lambda upload: self._enlist(upload.upload_id, expires_at, now), found[1:])
            taken = zip(found, enlisted, strict=False)  # only the first file when it could not be taken
            before = {upload.upload_id: state for upload, (state, _) in taken if state is not None}
            error = next((error for _, error in enlisted if error is not None), None)
            if error is not None:
                raise error
            uploaded = self.bundles.seal(manifest, members, [], opts, lambda: fields, now, list(before))
        except BaseException:
            self._restore(before)
            storage.delete(manifest)
            raise
        storage.each(lambda upload: self._consume(upload.upload_id), found)
        return uploaded

    def _enlist(self, stored_as: str, expires_at: int, now: int) -> tuple[dict | None, Exception | None]:
        """Make the file a member (atomically, so two joins of one upload cannot both take it): its state
        before, or the error that left it as it was."""
        seen = {}

        def enlist(state: dict) -> dict:
            seen.update(state=state)
            return lifecycle.enlist(state, expires_at, now)
        try:
            self.bundles.storage.update_state(stored_as, enlist)
        except Exception as error:  # noqa: BLE001 - the join restores the others, then raises it
            return None, error
        return seen["state"], None

    def _restore(self, before: dict[str, dict]) -> None:
        def restore(item: tuple[str, dict]) -> None:
            stored_as, state = item
            with contextlib.suppress(Exception):  # best effort: a file left a member is swept at its expiry
                self.bundles.storage.update_state(stored_as, lambda _: state)
        self.bundles.storage.each(restore, before.items())

    def _consume(self, upload_id: str) -> None:
        with contextlib.suppress(Exception):  # the bundle stands; a record left here is swept at its expiry
            self.uploads.consume(upload_id)
