"""The JSON API under /api: parse the request, call the service, shape the answer.

Contract: the routes below are the public HTTP contract (docs/CONTRACT in the
README). Routes hold no try/except, no crypto and no paths; errors are raised
and turned into JSON by ``http.errors``. A token in a query string is refused on
every route, because URLs end up in logs, histories and Referer headers.
"""

from dataclasses import asdict

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

import hmac

from ..errors import BadRequest, RateLimited, Unauthorized
from ..service import FileService
from .headers import API_HEADERS, download_headers
from .ratelimit import RateLimiter
from .uploads import MULTIPART_SLACK, credentials_from, upload_body

api = Blueprint("api", __name__, url_prefix="/api")
_password_failures = RateLimiter(limit=10, window=600)


def _service() -> FileService:
    return current_app.extensions["anon_hosting"]


@api.before_request
def _refuse_token_in_url():
    if "token" in request.args:
        raise BadRequest("Tokens must never be sent in a URL. Send them in the POST body.")


@api.after_request
def _api_headers(response: Response):
    for name, value in API_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@api.get("/health")
def health():
    _service().ping()
    return {"status": "ok"}


@api.get("/config")
def config():
    limits, site = _service().limits, current_app.config["SITE"]
    return {"website_name": site.website_name, "max_upload_bytes": limits.max_upload_bytes,
            "default_expires_in": limits.default_expires_in, "max_expires_in": limits.max_expires_in,
            "upload_password_required": bool(site.upload_password)}


@api.post("/files")
def upload():
    _check_upload_password()
    limit = _service().limits.max_upload_bytes
    request.max_content_length = limit + MULTIPART_SLACK
    body = upload_body(request, limit)
    return jsonify(asdict(_service().upload(body.name, body.chunks, body.fields))), 201


@api.post("/files/info")
def info():
    return asdict(_service().info(*credentials_from(request)))


@api.post("/files/delete")
def delete():
    token, _ = credentials_from(request)
    _service().delete(token)
    return "", 204


@api.post("/files/retrieve")
def retrieve():
    download = _service().retrieve(*credentials_from(request))
    response = Response(stream_with_context(download.chunks), headers=download_headers(download.name, download.size),
                        direct_passthrough=True)
    response.call_on_close(download.close)
    return response


def _check_upload_password() -> None:
    password = current_app.config["SITE"].upload_password
    if not password:
        return
    client = request.remote_addr or "unknown"
    if _password_failures.blocked(client):
        raise RateLimited(retry_after=_password_failures.retry_after(client))
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), password.encode()):
        _password_failures.hit(client)
        raise Unauthorized()
