"""anon_hosting/logs.py: request ids, secret-shaped strings redacted, and one JSON object per line."""

import json
import logging
import secrets

import pytest

from anon_hosting import logs

NAME = secrets.token_urlsafe(32)  # a storage name's shape (and a file key's, in base64url)
TOKEN = "eyJhbGciOiJkaXIifQ..bWFkZS11cC1pdg.Y2lwaGVydGV4dC1oZXJl.dGFnLXRhZy10YWc"


@pytest.mark.parametrize("sent", ["0123456789abcdef0123456789abcdef", "client-req.42_x", "a" * 64])
def test_a_well_formed_request_id_is_kept(sent):
    assert logs.request_id(sent) == sent


@pytest.mark.parametrize("sent", [None, "", "short", "a" * 65, "has space in it", "new\nline-injected",
                                  '"quoted"-value', "ümlaut-id-123"])
def test_a_missing_or_malformed_request_id_is_replaced(sent):
    made = logs.request_id(sent)
    assert made != sent and len(made) == 32 and int(made, 16) >= 0


@pytest.mark.parametrize("secret", [NAME, TOKEN, secrets.token_hex(32)])
def test_secret_shaped_strings_are_redacted(secret):
    assert logs.scrub(f"[Errno 21] Is a directory: '/data/files/{secret}'") == \
        "[Errno 21] Is a directory: '/data/files/[redacted]'"


def test_ordinary_words_paths_and_request_ids_stay():
    line = '127.0.0.1 "POST /api/files/retrieve HTTP/1.1" 200 5 3ms 0123456789abcdef0123456789abcdef'
    assert logs.scrub(line) == line


def _record(message, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("anon_hosting", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_json_line_is_one_object_with_the_request_id_and_the_traceback_redacted():
    logs.REQUEST_ID.set("0123456789abcdef")
    try:
        open(f"/nonexistent/{NAME}")  # noqa: PTH123, SIM115 - a real OSError that names the path
    except OSError as exc:
        record = _record("unhandled %s", type(exc).__name__, exc_info=(type(exc), exc, exc.__traceback__))
    line = logs.Formatter("json").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "0123456789abcdef"
    assert (entry["level"], entry["message"]) == ("ERROR", "unhandled FileNotFoundError")
    assert "FileNotFoundError" in entry["traceback"] and "[redacted]" in entry["traceback"]
    assert NAME not in line


def test_a_text_line_carries_the_request_id():
    logs.REQUEST_ID.set("feedfacefeedface")
    assert "[ERROR] [feedfacefeedface] token " in logs.Formatter("text").format(_record("token %s", TOKEN))


def test_the_access_json_line_has_the_fields_operators_filter_on():
    entry = json.loads(logs.access_json(request_id="feedfacefeedface", client="127.0.0.1", method="POST",
                                        route="/api/files", status="201", sent=652, duration_ms=9))
    assert {k: entry[k] for k in ("request_id", "route", "status", "duration_ms", "bytes")} == \
        {"request_id": "feedfacefeedface", "route": "/api/files", "status": 201, "duration_ms": 9, "bytes": 652}
    assert {"time", "level"} <= set(entry)
