"""What every request leaves behind: its request id, its metrics, and ``GET /metrics``.

Contract: ``Observed(wsgi_app)`` is WSGI middleware around the whole app. It takes
the request id nginx sent in ``X-Request-ID`` (``logs.request_id``: a malformed or
missing one is replaced by a fresh one), makes it the id of every log line written
while the request is served, and answers with it. When the answer is done it counts
the request by route and status, its duration (API routes), upload and download
outcomes by error code, and app-side rate-limit refusals (``metrics``). A download
(a ``200`` of retrieve) is counted when its body ends: ``completed`` once its last
byte went out, ``cut_short`` when the client left or the server broke it off (then with
the error's code); either way one line says so, and a failure after the headers closes
the connection without a gunicorn traceback (``_Download``). An upload refused because
its body ended early or stalled counts as ``cut_short``. ``register(app)`` adds
``GET /metrics`` (the Prometheus text format). The error mapping (``errors``) tells
this module an answer's error code through ``ERROR_KEY`` in the WSGI environ.
"""

import errno
import logging
import time

from flask import Flask, Response, current_app, request

from .. import logs, metrics
from ..errors import AppError, CutShort, RequestTimeout

log = logging.getLogger(__name__)
ERROR_KEY = "anon_hosting.error"  # environ: (code, cut short) of the error an answer carries
ROUTE_KEY = "anon_hosting.route"  # environ: the URL rule that matched, for the counts and the access log
UPLOAD, RETRIEVE = "/api/files", "/api/files/retrieve"


def note_error(environ: dict, error: AppError) -> None:
    environ[ERROR_KEY] = (error.code, isinstance(error, CutShort | RequestTimeout))


class Observed:
    def __init__(self, app):
        self._app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        rid = logs.request_id(environ.get("HTTP_X_REQUEST_ID"))
        logs.REQUEST_ID.set(rid)  # this thread's requests each set their own
        answer = []

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-ID", rid))
            answer[:] = [status]
            return start_response(status, headers, exc_info)

        body = self._app(environ, start)
        route = environ.get(ROUTE_KEY, metrics.UNMATCHED)
        status = answer[0][:3] if answer else "500"
        if route == RETRIEVE and status == "200":
            return _Download(body, route, started)
        _count(environ, route, status, started)
        return body


def _child(metric, *labels):
    """``metric.labels(*labels)``, kept: label values are bounded, and labels() validates and locks on every call."""
    children = _CHILDREN.setdefault(metric, {})
    child = children.get(labels)
    if child is None:
        child = children[labels] = metric.labels(*labels)
    return child


_CHILDREN: dict = {}


def _count(environ: dict, route: str, status: str, started: float) -> None:
    metrics.count(_child(metrics.REQUESTS, route, status))
    if route.startswith("/api/"):
        metrics.observe(_child(metrics.DURATION, route), time.perf_counter() - started)
    if route not in (UPLOAD, RETRIEVE) and status != "429":
        return
    code, cut_short = environ.get(ERROR_KEY, ("", False))
    if status == "429" and code == "rate_limited":
        metrics.count(_child(metrics.RATE_LIMITED, route))
    if route == UPLOAD:
        outcome = metrics.COMPLETED if status == "201" else metrics.CUT_SHORT if cut_short else metrics.REFUSED
        metrics.count(_child(metrics.UPLOADS, outcome, code))
    elif route == RETRIEVE:
        metrics.count(_child(metrics.DOWNLOADS, metrics.REFUSED, code))


class _Download:
    """A download's body, counted as it goes out: its bytes, and whether it ended."""

    def __init__(self, body, route: str, started: float):
        self._body, self._route, self._started = body, route, started
        self._sent, self._ended, self._code = 0, False, ""

    def __iter__(self):
        try:
            for chunk in self._body:
                self._sent += len(chunk)
                yield chunk
        except Exception as exc:  # noqa: BLE001 - whatever broke the body off, it is logged and closes the connection
            self._broken_off(exc)
            # Headers and part of the body are out: only closing the connection tells the client. A broken
            # pipe is the one error on which gunicorn closes it without logging a traceback of its own.
            raise BrokenPipeError(errno.EPIPE, "download broken off") from None
        self._ended = True

    def _broken_off(self, exc: Exception) -> None:
        """One line: a known failure (the storage went away) without a traceback; a bug with it."""
        if isinstance(exc, AppError):
            self._code = exc.code
            log.warning("download broken off after %d bytes: %s (%s)", self._sent, exc.code.replace("_", " "),
                        type(exc.__cause__ or exc).__name__)
        else:
            self._code = "internal_error"
            log.error("download broken off after %d bytes: unhandled %s", self._sent, type(exc).__name__,
                      exc_info=exc)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            metrics.count(metrics.DOWNLOAD_BYTES, self._sent)
            outcome = metrics.COMPLETED if self._ended else metrics.CUT_SHORT
            if not self._ended and not self._code:
                log.info("download cut short after %d bytes", self._sent)
            metrics.count(_child(metrics.DOWNLOADS, outcome, self._code))
            metrics.count(_child(metrics.REQUESTS, self._route, "200"))
            metrics.observe(_child(metrics.DURATION, self._route), time.perf_counter() - self._started)


def register(app: Flask) -> None:
    @app.after_request
    def _note_route(response: Response):
        rule = request.url_rule
        request.environ[ROUTE_KEY] = rule.rule if rule is not None else metrics.UNMATCHED
        return response

    @app.get("/metrics")
    def prometheus():
        return Response(metrics.render(current_app.extensions["anon_hosting"].storage),
                        content_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
