"""The JSON API under /api: parse the request, call the service, shape the answer.

Contract: the routes below are the public HTTP contract, described by
``anon_hosting/openapi.yaml`` (served at /api/openapi.yaml; docs/openapi.yaml
links to it). Routes hold no try/except, no crypto and no paths; errors are
raised and turned into JSON by ``http.errors``. A token or passphrase anywhere in a URL
(a ``token`` or ``passphrase`` query parameter, or a path segment shaped like a token) is
refused with 400 before anything else, on every path of the app, because URLs end up in
logs, histories and Referer headers.
"""

import hmac
import re
from functools import cache
from importlib.resources import files

from flask import Blueprint, Response, current_app, request

from ..errors import BadRequest, Unauthorized, WrongPassphrase
from ..results import FileInfo, Uploaded
from ..service import FileService
from . import metadata, ratelimit
from .errors import error_response
from .headers import API_HEADERS, download_headers
from .uploads import credentials_from, file_index_from, finish_body, multipart_limit, upload_body

api = Blueprint("api", __name__, url_prefix="/api")


def _service() -> FileService:
    return current_app.extensions["anon_hosting"]


def _limits() -> ratelimit.ClientLimits:
    return current_app.extensions["anon_hosting.limits"]


def _client() -> str:
    return request.remote_addr or "unknown"


# Five base64url parts, as compact JWE (nginx's template has the same pattern).
TOKEN_IN_PATH = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{8,}")
SECRET_PARAMETERS = frozenset({"token", "passphrase"})


@api.before_app_request
def _refuse_secrets_in_url():
    # An app-wide hook: it runs before routing errors are raised, so an unknown path is refused too.
    if request.query_string and any(key.lower() in SECRET_PARAMETERS for key in request.args):
        raise BadRequest("Tokens and passphrases must never be sent in a URL. Send them in the POST body.")
    if TOKEN_IN_PATH.search(request.path):
        raise BadRequest("Tokens must never be sent in a URL. Send them in the POST body.")


@api.before_request
def _rate_limit():
    member = request.endpoint == ratelimit.CREATION_ENDPOINT and metadata.declares_member(
        request.headers.get("Upload-Metadata", ""))
    ratelimit.check_request(_limits().for_endpoint(request.endpoint, member), _client())


@api.errorhandler(WrongPassphrase)
def _count_wrong_passphrase(error: WrongPassphrase):
    ratelimit.record_failure(_limits().passphrases, _client())
    return error_response(error)


@api.after_request
def _api_headers(response: Response):
    # one pass over the answer's headers: setdefault per header rescanned them all each time (4 % of a small round trip)
    present = {name.lower() for name, _ in response.headers}  # werkzeug Headers iterate as (name, value)
    response.headers.extend([(name, value) for name, value in API_HEADERS.items() if name.lower() not in present])
    return response


@api.after_request
def _finish_body(response: Response):
    # A POST route succeeds only once it has read its whole body; a refusal, or a route that takes
    # no body (a GET that came with one anyway), may answer before the body's end.
    if response.status_code >= 400 or request.method != "POST":
        finish_body(request)
    return response


@api.get("/health")
def health():
    """Liveness: the process answers (the storage and the key set are /ready's business)."""
    instance_id = current_app.config["SITE"].instance_id
    return {"status": "ok", "instance": instance_id} if instance_id else {"status": "ok"}


@api.get("/ready")
def ready():
    """Readiness: the storage takes a write, and the key set opens."""
    _service().ping()
    _service().keyring.check_loaded()
    return {"status": "ready"}


@api.get("/config")
def config():
    limits, site = _service().limits, current_app.config["SITE"]
    return {"website_name": site.website_name, "max_upload_bytes": limits.max_upload_bytes,
            "default_expires_in": limits.default_expires_in, "max_expires_in": limits.max_expires_in,
            "upload_password_required": bool(site.upload_password), "max_bundle_files": site.max_bundle_files}


@api.get("/openapi.yaml")
def openapi():
    return Response(_openapi_text(), mimetype="application/yaml")


@cache
def _openapi_text() -> str:
    """The contract, shipped as package data (docs/openapi.yaml is a symlink to it)."""
    return files("anon_hosting").joinpath("openapi.yaml").read_text(encoding="utf-8")


@api.post("/files")
def upload():
    check_upload_password()
    limit, max_files = _service().limits.max_upload_bytes, _service().bundles.max_files
    request.max_content_length = multipart_limit(limit, max_files)
    body = upload_body(request, limit, max_files)
    if request.mimetype == "multipart/form-data":  # one file part or several (a bundle)
        return _fields(_service().bundles.upload(body.files, body.fields)), 201
    return _fields(_service().upload(*next(body.files), body.fields)), 201


@api.post("/files/info")
def info():
    return _fields(_service().info(*_credentials()))


@api.post("/files/delete")
def delete():
    token, _ = credentials_from(request)
    _service().delete(token)
    return "", 204


@api.post("/files/retrieve")
def retrieve():
    token, passphrase = _credentials()
    download = _service().retrieve(token, passphrase, file=file_index_from(request))
    response = Response(download.chunks, headers=download_headers(download.name, download.size, download.content_type),
                        direct_passthrough=True)
    response.call_on_close(download.close)
    return response


def _fields(result: Uploaded | FileInfo) -> dict:
    """A service result's fields, for the JSON answer. Its values are str, int, bool or None, so the
    fields' own dict serves; dataclasses.asdict deep-copies each value (2 % of a small round trip)."""
    return vars(result)


def _credentials() -> tuple[object, str | None]:
    token, passphrase = credentials_from(request)
    if passphrase is not None:  # a per-file limit lives in lifecycle; these span all files
        ratelimit.check_attempts(_limits().passphrases, _client())
        ratelimit.check_request(_limits().passphrase_requests, _client())
    return token, passphrase


def check_upload_password() -> None:
    password = current_app.config["SITE"].upload_password
    if not password:
        return
    limiter = _limits().upload_password
    ratelimit.check_attempts(limiter, _client())
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), password.encode()):
        ratelimit.record_failure(limiter, _client())
        raise Unauthorized()
