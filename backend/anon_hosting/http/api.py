"""The JSON API under /api: parse the request, call the service, shape the answer.

Contract: the routes below are the public HTTP contract (docs/CONTRACT in the
README). Routes hold no try/except, no crypto and no paths; errors are raised
and turned into JSON by ``http.errors``. A token in a query string is refused on
every route, because URLs end up in logs, histories and Referer headers.
"""

from dataclasses import asdict

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from ..errors import BadRequest
from ..service import FileService
from .headers import API_HEADERS, download_headers
from .uploads import MULTIPART_SLACK, token_from, upload_body

api = Blueprint("api", __name__, url_prefix="/api")


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
            "default_expires_in": limits.default_expires_in, "max_expires_in": limits.max_expires_in}


@api.post("/files")
def upload():
    limit = _service().limits.max_upload_bytes
    request.max_content_length = limit + MULTIPART_SLACK
    body = upload_body(request, limit)
    uploaded = _service().upload(body.name, body.chunks, body.fields)
    return jsonify({**asdict(uploaded), "max_downloads": None}), 201


@api.post("/files/info")
def info():
    return asdict(_service().info(token_from(request)))


@api.post("/files/retrieve")
def retrieve():
    download = _service().retrieve(token_from(request))
    response = Response(stream_with_context(download.chunks), headers=download_headers(download.name, download.size),
                        direct_passthrough=True)
    response.call_on_close(download.close)
    return response
