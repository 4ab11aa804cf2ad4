"""Log lines of the server: one format for every line, the request id on each, and no secret on any.

Contract: ``configure(log_format)`` makes every line this process writes, the app's
(the ``anon_hosting`` loggers) and gunicorn's (``gunicorn.error``), go through one
``Formatter``: with ``text`` ``time [pid] [LEVEL] [request id] message``, with ``json``
one JSON object per line (``time``, ``level``, ``request_id``, ``logger``, ``message``
and, for a failure, ``traceback``). ``access_json(...)`` is the JSON line of one finished
request (with ``route``, ``status``, ``duration_ms`` and ``bytes``; gunicorn's access
logger writes it in place of its text line).
``REQUEST_ID`` holds the id of the request this thread serves (``-`` outside one), and
``request_id(sent)`` checks a client's id or makes a new one. Before a line is written,
anything shaped like a token, a file key or a storage name (``scrub``) is replaced by
``[redacted]``, tracebacks and exception messages included, so an error that quotes a
path or a URL cannot carry a storage key into the log.
"""

import contextvars
import json
import logging
import re
import secrets
import time

FORMATS = ("text", "json")
REQUEST_ID = contextvars.ContextVar("request_id", default="-")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}", re.ASCII)  # nginx's $request_id is 32 hex digits
# Compact JWE (a token), 43 base64url characters (a storage name, a file key, a salt) or 64 hex digits.
_SECRET = re.compile(r"[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){4}|(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"
                     r"|(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])", re.ASCII)
_TEXT = "%(asctime)s [%(process)d] [%(levelname)s] [%(request_id)s] %(message)s"
_TIME = "%Y-%m-%d %H:%M:%S %z"
_ISO_TIME = "%Y-%m-%dT%H:%M:%S%z"  # JSON lines: ISO 8601, which log stores parse as it comes
_HANDLED = "anon_hosting.logs"  # marks the handler configure() added, so a second call replaces it


def request_id(sent: str | None) -> str:
    """The client's (nginx's) id when it is 8-64 of ``A-Za-z0-9._-``, else a fresh random one."""
    if sent and _REQUEST_ID.fullmatch(sent):
        return sent
    return secrets.token_hex(16)


def scrub(text: str) -> str:
    return _SECRET.sub("[redacted]", text)


class Formatter(logging.Formatter):
    def __init__(self, log_format: str = "text"):
        super().__init__(_TEXT, _TIME)
        self.json = log_format == "json"

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = REQUEST_ID.get()
        if not self.json:
            return scrub(super().format(record))
        entry = {"time": self.formatTime(record, _ISO_TIME), "level": record.levelname,
                 "request_id": record.request_id, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False))


_formatter = Formatter()


def configure(log_format: str, stream=None) -> None:
    """Send this process's app and gunicorn lines through one ``Formatter`` of ``log_format``."""
    global _formatter
    _formatter = Formatter(log_format)
    app = logging.getLogger("anon_hosting")
    for handler in [h for h in app.handlers if getattr(h, "name", None) == _HANDLED]:
        app.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.name = _HANDLED
    handler.setFormatter(_formatter)
    app.addHandler(handler)
    app.setLevel(logging.INFO)
    app.propagate = False
    for handler in logging.getLogger("gunicorn.error").handlers:
        handler.setFormatter(_formatter)


def json_lines() -> bool:
    return _formatter.json


def access_json(*, request_id: str, client: str, method: str, route: str, status: str, sent: int | None,
                duration_ms: int) -> str:
    """The JSON line of one finished request (``route`` is the URL rule, never the path)."""
    entry = {"time": time.strftime(_ISO_TIME), "level": "INFO", "request_id": request_id, "logger": "access",
             "client": client, "method": method, "route": route, "status": int(status) if status.isdigit() else status,
             "duration_ms": duration_ms, "bytes": sent}
    return scrub(json.dumps(entry))
