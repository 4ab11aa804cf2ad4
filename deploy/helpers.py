"""Steps shared by the compose checks: uploads and downloads through the site, commands in containers."""

from __future__ import annotations

import hashlib
import json
import os
import re
from urllib.parse import quote

import requests

# A JWE in compact form: five base64url parts, the first a JSON header ("eyJ" is '{"' encoded).
JWE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

# Run inside a backend container with its own python3: a request to gunicorn on 127.0.0.1:8000,
# bypassing nginx. stdin: {"path", "body" (hex), "headers"}; stdout: {"status", "body" (hex)}.
IN_CONTAINER_CLIENT = """
import json, sys, urllib.error, urllib.request
ask = json.load(sys.stdin)
request = urllib.request.Request("http://127.0.0.1:8000" + ask["path"], data=bytes.fromhex(ask["body"]),
                                 headers=ask["headers"], method="POST")
try:
    with urllib.request.urlopen(request, timeout=30) as answer:
        status, body = answer.status, answer.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
json.dump({"status": status, "body": body.hex()}, sys.stdout)
"""


def random_bytes(size: int) -> bytes:
    return os.urandom(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(site: str, data: bytes, name: str, **params) -> dict:
    response = requests.post(f"{site}/api/files", data=data, params={k: str(v) for k, v in params.items()},
                             headers={"Content-Type": "application/octet-stream",
                                      "X-File-Name": quote(name, safe="")}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()


def retrieve(site: str, token: str) -> requests.Response:
    return requests.post(f"{site}/api/files/retrieve", data={"token": token}, timeout=60)


def in_backend(stack, container: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST to gunicorn inside one backend container, not through nginx."""
    ask = json.dumps({"path": path, "body": body.hex(), "headers": headers})
    result = stack.exec(container, "python3", "-c", IN_CONTAINER_CLIENT, stdin=ask)
    answer = json.loads(result.stdout)
    return answer["status"], bytes.fromhex(answer["body"])


def access_lines(stack, container: str, needle: str) -> int:
    return sum(needle in line for line in stack.logs(container).splitlines())
