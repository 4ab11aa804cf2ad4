"""No token, token part, file key or SECRET_KEY in any container's log after the journeys.

Runs right after the e2e journeys (the Makefile's order), on the containers that served them,
before any test here recreates a container and so empties its log.
"""

import base64
import json

import pytest
import requests

from helpers import JWE, random_bytes, upload


@pytest.fixture(scope="module")
def own_tokens(site):
    """Tokens this module makes itself and so knows exactly, also sent through every endpoint."""
    answer = upload(site, random_bytes(4096), "log-audit.bin", max_downloads=5)
    for endpoint in ("info", "retrieve"):
        response = requests.post(f"{site}/api/files/{endpoint}", data={"token": answer["token"]}, timeout=30)
        assert response.status_code == 200, response.text
    return [answer["token"], answer["owner_token"]]


@pytest.fixture(scope="module")
def logs(stack, own_tokens):
    return {name: stack.logs(name) for name in stack.containers()}


def _secrets_of(token: str) -> list[str]:
    """The token, each of its five parts, and the file key inside it when it is readable."""
    parts = token.split(".")
    found = [token, *(p for p in parts if len(p) >= 16)]
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    assert header.get("enc") == "A256GCM", header
    return found


def test_the_logs_hold_the_journeys(logs, stack):
    """Searching proves something only if the requests were logged: by nginx and by gunicorn."""
    nginx, = stack.containers("nginx")
    assert sum("POST /api/files " in line for line in logs[nginx].splitlines()) >= 20
    backend_lines = sum("POST /api/files" in line for name in stack.containers("backend")
                        for line in logs[name].splitlines())
    assert backend_lines >= 20


def test_no_token_shaped_string_in_any_log(logs):
    for name, text in logs.items():
        assert not JWE.findall(text), f"{name} logged a token"


def test_no_known_token_or_part_in_any_log(logs, own_tokens):
    for token in own_tokens:
        for secret in _secrets_of(token):
            for name, text in logs.items():
                assert secret not in text, f"{name} logged part of a token"


def test_no_secret_key_in_any_log(logs, stack):
    backend = stack.containers("backend")[0]
    env = stack.inspect(backend, "{{json .Config.Env}}")
    secret = next(v.split("=", 1)[1] for v in json.loads(env) if v.startswith("SECRET_KEY="))
    assert len(secret) >= 32
    for name, text in logs.items():
        assert secret not in text, f"{name} logged SECRET_KEY"
