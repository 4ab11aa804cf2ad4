"""Request ids and /metrics through the real stack (scripts/stack.py: nginx in front of gunicorn).

nginx passes a well-formed X-Request-ID on and replaces a missing or malformed one with its own
$request_id; the backend answers with it and puts it on its access line, and nginx on its own.
nginx's own error answers (its JSON 413, 429, 502...) carry the id too. /metrics answers on the backend
only: nginx says 404.
"""

import re
import time
from pathlib import Path

import pytest
import requests


@pytest.fixture(scope="module")
def stack(serve_stack):
    with serve_stack("request-ids") as running:
        yield running


def logged(path: Path, rid: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(line.endswith(" " + rid) for line in path.read_text(errors="replace").splitlines()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sent", [None, "", "bad id with spaces", "x" * 65, "short", "a\u00e9" * 8])
def test_nginx_replaces_a_missing_or_malformed_request_id(stack, sent):
    headers = {} if sent is None else {"X-Request-ID": sent.encode()}
    answer = requests.get(f"{stack.url}/api/config", headers=headers, timeout=30)
    rid = answer.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid), rid  # nginx's $request_id
    assert logged(stack.gunicorn_log, rid) and logged(stack.nginx_log, rid)


def test_a_well_formed_request_id_goes_through_and_into_both_logs(stack):
    rid = "client-chosen.id_0042"
    answer = requests.post(f"{stack.url}/api/files/info", json={"token": "garbage"},
                           headers={"X-Request-ID": rid}, timeout=30)
    assert (answer.status_code, answer.headers["X-Request-ID"]) == (400, rid)
    assert logged(stack.gunicorn_log, rid) and logged(stack.nginx_log, rid)


@pytest.mark.parametrize("sent", [None, "nginx-own-error-0001"])
def test_nginx_own_errors_carry_the_request_id_it_logs(stack, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    answer = requests.post(f"{stack.url}/api/files/info", data=b"x" * (128 << 10), headers=headers, timeout=30)
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "too_large")  # nginx's: over its 64k
    rid = answer.headers["X-Request-ID"]
    assert rid == sent if sent else re.fullmatch(r"[0-9a-f]{32}", rid), rid
    assert logged(stack.nginx_log, rid)


def test_metrics_answer_on_the_backend_and_404_through_nginx(stack):
    assert requests.get(f"{stack.api_url}/metrics", timeout=30).status_code == 200
    for path in ("/metrics", "/metrics/", "/api/metrics"):
        assert requests.get(f"{stack.url}{path}", timeout=30).status_code == 404, path
