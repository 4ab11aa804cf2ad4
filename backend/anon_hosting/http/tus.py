"""The tus 1.0.0 routes at /api/uploads: core protocol, creation, creation-with-upload, termination, expiration.

Contract: these routes join the /api blueprint (its rate limits, headers and URL
checks apply) and are described in ``openapi.yaml``. Every request but OPTIONS
carries ``Tus-Resumable: 1.0.0`` (else 412) and ``Upload-Secret``: 32 to 64
random bytes in base64url, held by the client only (missing or malformed: 400;
wrong: 404, as an unknown id). Options come in ``Upload-Metadata`` (``filename``,
``expires_in``, ``max_downloads``, ``passphrase``; ``bundle`` marks a bundle
member's upload; other keys, such as a client's ``filetype``, are ignored; see
``metadata``). The request that brings the last byte answers the JSON of
``POST /api/files`` (201 for a POST, 200 for a PATCH), or for a bundle member
``kind: "member"`` without tokens; ``GET`` answers it again until the record
expires. Every answer carries ``Tus-Resumable``.
"""

import base64
import binascii
import re
from email.utils import formatdate

from flask import Response, current_app, jsonify, request

from ..crypto.upload_secret import MAX_SECRET_BYTES, MIN_SECRET_BYTES
from ..errors import BadRequest, PreconditionFailed, UnsupportedMediaType
from ..resumable import Progress, ResumableUploads
from . import metadata
from .api import api, check_upload_password
from .uploads import body_chunks, finish_body

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
EXPOSED_HEADERS = ["Location", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Upload-Offset",
                   "Upload-Length", "Upload-Expires"]
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def _uploads() -> ResumableUploads:
    return current_app.extensions["anon_hosting.uploads"]


@api.after_request
def _tus_resumable(response: Response):
    if request.path == "/api/uploads" or request.path.startswith("/api/uploads/"):
        response.headers["Tus-Resumable"] = VERSION
        if response.status_code >= 400:
            # A refused PATCH is read to its end: nginx, still sending it, would turn an early 409 or 423
            # into a broken upstream (and a 413 page), and tus clients retry only the first two.
            finish_body(request, _uploads().files.limits.max_upload_bytes)
    return response


@api.route("/uploads", methods=["OPTIONS"], provide_automatic_options=False)
def tus_options():
    return _empty(204, {"Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
                        "Tus-Max-Size": str(_uploads().files.limits.max_upload_bytes)})


@api.post("/uploads")
def tus_create():
    _check_version()
    secret = _secret()
    if "Upload-Defer-Length" in request.headers:
        raise BadRequest("Send Upload-Length: this server does not take deferred lengths.")
    length = _number("Upload-Length")
    check_upload_password()
    uploads = _uploads()
    progress = uploads.create(secret, length, metadata.parse(request.headers.get("Upload-Metadata", "")))
    location = f"/api/uploads/{progress.upload_id}"
    if length == 0 or request.content_length or request.headers.get("Transfer-Encoding"):
        progress = uploads.append(progress.upload_id, secret, 0, _body(length))
    return _progress(progress, 201, {"Location": location})


@api.route("/uploads/<upload_id>", methods=["GET", "HEAD"])
def tus_upload(upload_id: str):
    _check_version()
    if request.method == "HEAD":
        progress = _uploads().offset(upload_id, _secret())
        return _empty(200, {**_headers(progress), "Upload-Length": str(progress.length)})
    return jsonify(vars(_uploads().result(upload_id, _secret())))


@api.patch("/uploads/<upload_id>")
def tus_patch(upload_id: str):
    _check_version()
    secret = _secret()
    if request.mimetype != OFFSET_TYPE:
        raise UnsupportedMediaType(f"Send the bytes with Content-Type: {OFFSET_TYPE}.")
    offset = _number("Upload-Offset")
    return _progress(_uploads().append(upload_id, secret, offset, _body(None, offset)), 200)


@api.delete("/uploads/<upload_id>")
def tus_delete(upload_id: str):
    _check_version()
    _uploads().terminate(upload_id, _secret())
    return _empty(204)


def _progress(progress: Progress, finished_status: int, headers: dict | None = None):
    headers = {**(headers or {}), **_headers(progress)}
    if progress.result is not None:
        return jsonify(vars(progress.result)), finished_status, headers
    if finished_status == 201:
        return jsonify({}), 201, headers  # an unfinished creation: a JSON body all the same, always one type
    return _empty(204, headers)


def _empty(status: int, headers: dict | None = None) -> Response:
    """An answer without a body, and so without a Content-Type."""
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]
    return response


def _headers(progress: Progress) -> dict:
    return {"Upload-Offset": str(progress.offset), "Upload-Expires": formatdate(progress.expires_at, usegmt=True),
            "Cache-Control": "no-store"}


def _body(length: int | None, offset: int = 0):
    """The request's bytes; a Content-Length past the upload's end is refused before any is read."""
    if request.content_length and request.mimetype != OFFSET_TYPE:
        raise UnsupportedMediaType(f"Send the bytes with Content-Type: {OFFSET_TYPE}.")
    limit = _uploads().files.limits.max_upload_bytes - offset if length is None else length
    request.max_content_length = limit
    return body_chunks(request, limit)


def _check_version() -> None:
    if request.headers.get("Tus-Resumable") != VERSION:
        raise PreconditionFailed()


def _secret() -> bytes:
    return secret_from(request.headers.get("Upload-Secret", ""))


def secret_from(raw: str) -> bytes:
    """An Upload-Secret's bytes, from a header or a JSON body (``BadRequest`` unless well formed)."""
    raw = raw.strip()
    try:
        secret = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)) if raw.isascii() else b""
    except (binascii.Error, ValueError):
        secret = b""
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES or not re.fullmatch(r"[A-Za-z0-9_-]+=*", raw):
        raise BadRequest(f"Send Upload-Secret: {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes in base64url.")
    return secret


def _number(header: str) -> int:
    raw = request.headers.get(header, "")
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"{header} must be a whole number of bytes.")
    return int(raw)

