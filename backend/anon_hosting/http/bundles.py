"""POST /api/bundles: join finished resumable uploads (tus, /api/uploads) into one bundle.

Contract: the body is a JSON object ``{"uploads": [{"id", "secret", "path"?}, ...], "expires_in"?,
"max_downloads"?, "passphrase"?, "bundle_name"?}``; ``secret`` is the upload's Upload-Secret
(base64url), which travels in this body and never in a URL. The options mean what they mean for a
multipart bundle, as JSON strings or numbers. The answer is ``201`` with the JSON of a multipart bundle
upload (``kind: "bundle"``). The rate limit and UPLOAD_PASSWORD of ``POST /api/files`` apply
(``ratelimit.UPLOAD_ENDPOINTS``). A body that is not such an object is ``400``; the service's errors
(``bundle_join``) are mapped like every other.
"""

from flask import current_app, request

from ..bundle_join import BundleJoin, Entry
from ..errors import BadRequest, TooLarge, UnsupportedMediaType
from .api import api, check_upload_password
from .tus import secret_from
from .uploads import MAX_FIELD_BYTES, small_body

ENTRY_BYTES = 4096  # room for an id, a secret and a path of 1024 characters, JSON-escaped
OPTION_FIELDS = ("expires_in", "max_downloads", "passphrase", "bundle_name")
NUMBER_FIELDS = ("expires_in", "max_downloads")  # these may also come as JSON numbers
_OBJECT = '{"uploads": [{"id": "...", "secret": "..."}, ...]}'
_SHAPE = f"Send {_OBJECT} with the bundle's options."


def _joins() -> BundleJoin:
    return current_app.extensions["anon_hosting.joins"]


@api.post("/bundles")
def join_bundle():
    check_upload_password()
    joins = _joins()
    request.max_content_length = ENTRY_BYTES * (joins.bundles.max_files + 1)
    if not request.is_json:
        raise UnsupportedMediaType("Send the uploads to join as JSON (Content-Type: application/json).")
    body = small_body(request, _OBJECT)
    uploads = body.get("uploads")
    if not isinstance(uploads, list) or not all(isinstance(entry, dict) for entry in uploads):
        raise BadRequest(_SHAPE)
    if len(uploads) > joins.bundles.max_files:  # before any secret is decoded
        raise TooLarge(f"A bundle can hold at most {joins.bundles.max_files} files.")
    return vars(joins.join([_entry(entry) for entry in uploads], _options(body))), 201


def _entry(entry: dict) -> Entry:
    upload_id, secret, path = entry.get("id"), entry.get("secret"), entry.get("path")
    if not isinstance(upload_id, str) or not isinstance(secret, str) or not isinstance(path, str | None):
        raise BadRequest(f"Each upload is {{\"id\": string, \"secret\": string, \"path\": string}}. {_SHAPE}")
    return Entry(upload_id, secret_from(secret), path)


def _options(body: dict) -> dict[str, str]:
    """The options as the form fields of a multipart bundle (null is absent), a number as its digits."""
    fields = {}
    for name in OPTION_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if type(value) is int and name in NUMBER_FIELDS:
            value = str(value)
        if not isinstance(value, str) or len(value.encode()) > MAX_FIELD_BYTES:
            raise BadRequest(f"{name} must be a string of at most {MAX_FIELD_BYTES} bytes"
                             f"{' or a whole number' if name in NUMBER_FIELDS else ''}.")
        fields[name] = value
    return fields
