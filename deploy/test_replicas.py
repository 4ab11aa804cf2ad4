"""`--scale backend=2`: nginx (reloaded) spreads requests over both, which share the volumes and key set."""

import json

import pytest
import requests

from helpers import access_lines, in_backend, random_bytes, retrieve, sha256

BOGUS = {"path": "/api/files/info", "body": b'{"token": "not-a-token"}',
         "headers": {"Content-Type": "application/json"}}


@pytest.fixture(scope="module")
def replicas(stack):
    stack.up("--scale", "backend=2")
    try:
        yield stack.containers("backend")
    finally:
        stack.up("--scale", "backend=1")


def test_two_healthy_replicas(stack, replicas):
    assert len(replicas) == 2
    assert all(stack.health(name) == "healthy" for name in replicas)


def test_a_file_stored_by_one_replica_is_served_by_the_other(stack, replicas, site):
    """Straight to each gunicorn, past nginx: the volumes and the key set are the same."""
    first, second = replicas
    data = random_bytes(2 * 1024 * 1024 + 7)
    status, body = in_backend(stack, first, "/api/files", data,
                              {"Content-Type": "application/octet-stream", "X-File-Name": "replica.bin"})
    assert status == 201, body
    token = json.loads(body)["token"]
    status, body = in_backend(stack, second, "/api/files/retrieve", json.dumps({"token": token}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 200 and sha256(body) == sha256(data)
    response = retrieve(site, token)  # and through nginx, whichever replica answers
    assert response.status_code == 200 and sha256(response.content) == sha256(data)


def test_nginx_sends_requests_to_both_replicas(stack, replicas, site):
    before = {name: access_lines(stack, name, "POST /api/files/info") for name in replicas}
    for _ in range(10):
        response = requests.post(f"{site}{BOGUS['path']}", data=BOGUS["body"], headers=BOGUS["headers"], timeout=30)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_token"
    after = {name: access_lines(stack, name, "POST /api/files/info") for name in replicas}
    assert all(after[name] > before[name] for name in replicas), (before, after)
    assert sum(after.values()) - sum(before.values()) == 10
