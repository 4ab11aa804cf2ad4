"""The one place where failures become the JSON error shape.

Contract: every error answer is ``{"error": {"code": snake_case, "message": sentence}}``
with the status of the ``AppError`` (or of Werkzeug's HTTPException). Anything
unexpected is logged server-side without request data and answered as
``500 internal_error``; no traceback ever reaches a client. One exception to the
shape: the download form of the page (a form-encoded POST to retrieve whose Accept
prefers HTML, i.e. a browser navigation) gets the same status and message as a
short HTML page, because the browser shows that answer in place of the site.
"""

import html
import re

from flask import Flask, Response, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from ..errors import AppError, BadRequest, InternalError, KeysUnavailable, NotFound, StorageUnavailable, TooLarge
from .headers import API_HEADERS
from .metrics import note_error

_WERKZEUG = {400: BadRequest, 413: TooLarge}
_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This method is not allowed here.",
}


# Unstyled on purpose: nginx sandboxes every answer of the retrieve route (a download must never run
# as a page of this origin), so the page cannot load the site's stylesheet, and its CSP refuses inline CSS.
_PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>The download did not start</title>
<h1>The download did not start</h1>
<p>{message}</p>
<p><a href="/">Go to the start page</a></p>
</html>
"""


def error_response(error: AppError):
    if has_request_context():
        note_error(request.environ, error)
    if _browser_navigation():
        response = Response(_PAGE.format(message=html.escape(error.message)), mimetype="text/html")
    else:
        response = jsonify(error={"code": error.code, "message": error.message})
    response.status_code = error.status
    response.headers.update(API_HEADERS)
    response.headers.update(error.headers)
    return response


def register(app: Flask) -> None:
    app.register_error_handler(AppError, error_response)

    @app.errorhandler(StorageUnavailable)
    @app.errorhandler(KeysUnavailable)
    def _outage(exc: StorageUnavailable | KeysUnavailable):
        # One line, no traceback: the cause's text can name an object key or an endpoint.
        app.logger.warning("%s (%s)", exc.code.replace("_", " "), type(exc.__cause__ or exc).__name__)
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if isinstance(exc, RequestRedirect):  # its Location is built from the client's Host header
            return error_response(NotFound(_MESSAGES[404]))
        if exc.code in _WERKZEUG:
            return error_response(_WERKZEUG[exc.code]())
        error = AppError(_MESSAGES.get(exc.code, exc.description))
        error.status = exc.code or 500
        error.code = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
        # Keep what the exception says besides its HTML body, e.g. a 405's Allow (RFC 9110 requires it).
        error.headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return error_response(InternalError())


def _browser_navigation() -> bool:
    """The page's download form, posted as a navigation: the only answer a browser shows in place of the site."""
    return (has_request_context() and request.endpoint == "api.retrieve"
            and request.mimetype == "application/x-www-form-urlencoded"
            and request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html")
