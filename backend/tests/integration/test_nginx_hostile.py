"""nginx's own answers to hostile requests, on the real stack (scripts/stack.py): the API's JSON error
shape, secrets in URLs refused before any body is read, and no secret in nginx's logs.
"""

import json
import socket
from pathlib import Path

import pytest

SECRET = "SeCrEt0123456789abcdef"
TOKEN_PATH = f"/api/files/eyJhbGciOiJkaXIi..{SECRET[:16]}.Y2lwaGVydGV4dHg.dGFnMTIzNDU2Nzg5MDEyMzQ1Ng"


@pytest.fixture(scope="module")
def stack(serve_stack):
    with serve_stack("nginx-hostile") as running:
        yield running


def exchange(stack, request: bytes) -> tuple[int, dict, dict]:
    """Send raw bytes, read the whole answer (Connection: close or nginx's own close); status, headers, JSON."""
    with socket.create_connection(("127.0.0.1", stack.web_port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and _complete(answer):
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET /api/health HTTP/1.1\r\nHost: x\r\nA header line without a colon\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n", 400),
    (b"GET /api/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"POST /api/files/info HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET /api/health HTTP/2.5\r\nHost: x\r\n\r\n", 505),
    (b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 405),
])
def test_nginx_own_errors_are_json(stack, request_bytes, status):
    got, headers, body = exchange(stack, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/json"
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("target", [f"/api/files/info?token={SECRET}", f"/api/files?a=1&Passphrase={SECRET}",
                                    TOKEN_PATH])
def test_a_secret_in_the_url_is_refused_before_the_body_and_never_logged(stack, target):
    # A body far over any limit: refused for the URL (400), never for the size (413, whose error-log line
    # would carry the request line).
    got, headers, body = exchange(stack, f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                         f"Content-Length: 99999999999\r\nConnection: close\r\n\r\n".encode())
    assert (got, body["error"]["code"]) == (400, "bad_request")
    assert headers["content-type"] == "application/json"
    logs = [stack.nginx_log, stack.nginx_error_log, stack.gunicorn_log]
    assert not any(SECRET in Path(log).read_text(errors="replace") for log in logs if Path(log).exists())


def test_double_slashes_are_a_404_without_a_location_built_from_host(stack):
    got, headers, body = exchange(stack, b"POST /api/files//retrieve HTTP/1.1\r\nHost: evil.example\r\n"
                                         b"Content-Type: application/json\r\nContent-Length: 13\r\n"
                                         b"Connection: close\r\n\r\n{\"token\":\"x\"}")
    assert (got, body["error"]["code"]) == (404, "not_found")
    assert "location" not in headers
