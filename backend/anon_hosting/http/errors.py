"""The one place where failures become the JSON error shape.

Contract: every error answer is ``{"error": {"code": snake_case, "message": sentence}}``
with the status of the ``AppError`` (or of Werkzeug's HTTPException). Anything
unexpected is logged server-side without request data and answered as
``500 internal_error``; no traceback ever reaches a client.
"""

import re

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import AppError, BadRequest, InternalError, TooLarge
from .headers import API_HEADERS

_WERKZEUG = {400: BadRequest, 413: TooLarge}
_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This method is not allowed here.",
}


def error_response(error: AppError):
    response = jsonify(error={"code": error.code, "message": error.message})
    response.status_code = error.status
    response.headers.update(API_HEADERS)
    response.headers.update(getattr(error, "headers", {}))
    return response


def register(app: Flask) -> None:
    app.register_error_handler(AppError, error_response)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
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
