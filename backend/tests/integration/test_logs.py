"""The server's log lines, both formats, on a real gunicorn: the request id on every line of a request,
one JSON object per line with LOG_FORMAT=json, and no secret on any line, error paths and tracebacks included.

The end-of-session audit (log_audit.py) searches these logs for every token, token part, storage name,
file key and passphrase; the tests here also check the lines a failure writes right away.
"""

import json
import os

import pytest
import requests

from anon_hosting import keys, tokens

from .server import GunicornServer
from .transfer import download_bytes, upload_raw, wait_until

REQUEST_ID = "audit-0123456789abcdef"
PASSPHRASE = "correct horse battery staple"


def storage_name(server: GunicornServer, token: str) -> str:
    return tokens.verify(token, keys.KeyRing(server.private_dir, server.secret_key)).storage_name


def unhandled_error(server: GunicornServer) -> tuple[requests.Response, str]:
    """A 500 whose exception names the blob's path: the blob file of a stored file replaced by a folder."""
    token = upload_raw(server, os.urandom(100_000), "big-enough-for-a-file.bin").json()["token"]
    name = storage_name(server, token)
    blob = server.storage_dir / name
    blob.unlink()
    blob.mkdir()
    answer = server.session().post(server.url("/api/files/retrieve"), json={"token": token},
                                   headers={"X-Request-ID": REQUEST_ID}, timeout=30)
    return answer, name


def exercise(server: GunicornServer) -> None:
    """Uploads and downloads, with and without a passphrase, and the usual refusals."""
    session = server.session()
    plain = upload_raw(server, b"plain", "plain.txt", session).json()
    locked = session.post(server.url("/api/files"), data=b"locked", timeout=30,
                          headers={"Content-Type": "application/octet-stream", "X-Passphrase": PASSPHRASE})
    assert download_bytes(server, plain["token"], session) == b"plain"
    for body, status in [({"token": locked.json()["token"], "passphrase": "a wrong passphrase"}, 403),
                         ({"token": locked.json()["token"], "passphrase": PASSPHRASE}, 200),
                         ({"token": plain["owner_token"]}, 403), ({"token": "garbage"}, 400)]:
        assert session.post(server.url("/api/files/retrieve"), json=body, timeout=30).status_code == status
    assert session.post(server.url(f"/api/files/info?token={plain['token']}"), timeout=30).status_code == 400
    assert session.get(server.url("/api/no-such-route"), timeout=30).status_code == 404
    assert session.post(server.url("/api/files/delete"), json={"token": plain["owner_token"]},
                        timeout=30).status_code == 204


@pytest.fixture(scope="module")
def json_server(serve):
    with serve("json-logs", extra_env={"LOG_FORMAT": "json"}) as server:
        yield server


def entries(server: GunicornServer) -> list[dict]:
    return [json.loads(line) for line in server.log_text().splitlines()]


def test_json_lines_are_objects_and_access_lines_say_what_operators_need(json_server):
    exercise(json_server)
    assert wait_until(lambda: any(e.get("route") == "/api/files/delete" for e in entries(json_server)))
    access = [e for e in entries(json_server) if e["logger"] == "access"]
    assert {e["route"] for e in access} >= {"/api/health", "/api/files", "/api/files/retrieve",
                                            "/api/files/delete", "(unmatched)"}
    for entry in access:
        assert {"time", "level", "request_id", "route", "status", "duration_ms", "bytes"} <= set(entry), entry
        assert len(entry["request_id"]) == 32  # made by the backend: no proxy in front here


def test_a_traceback_is_one_json_line_with_the_request_id_and_no_storage_name(json_server):
    answer, name = unhandled_error(json_server)
    assert (answer.status_code, answer.json()["error"]["code"]) == (500, "internal_error")
    assert answer.headers["X-Request-ID"] == REQUEST_ID
    logged = lambda e: e.get("traceback") or (e.get("logger") == "access" and e["request_id"] == REQUEST_ID)  # noqa: E731
    assert wait_until(lambda: len([e for e in entries(json_server) if logged(e)]) >= 2)
    [failure] = [e for e in entries(json_server) if e.get("traceback")]
    assert failure["request_id"] == REQUEST_ID and failure["level"] == "ERROR"
    assert "IsADirectoryError" in failure["traceback"] and "[redacted]" in failure["traceback"]
    assert [e["status"] for e in entries(json_server) if e["request_id"] == REQUEST_ID and e["logger"] == "access"] \
        == [500]
    assert name not in json_server.log_text()


def test_text_lines_carry_the_request_id_and_tracebacks_name_no_storage_key(server):
    exercise(server)
    answer, name = unhandled_error(server)
    assert answer.status_code == 500
    access = '"POST /api/files/retrieve HTTP/1.1" 500'
    # The access line is written after the answer has gone, so it may trail the client's return.
    assert wait_until(lambda: "Traceback" in server.log_text() and access in server.log_text())
    lines = [line for line in server.log_text().splitlines() if REQUEST_ID in line]
    assert any("[ERROR]" in line and "unhandled IsADirectoryError" in line for line in lines)
    assert any(access in line for line in lines)
    assert name not in server.log_text()
