"""The README's operating commands, run in a backend container as `docker compose exec` would."""

import base64
import json

from helpers import random_bytes, retrieve, sha256, upload

FLASK = ("flask", "--app", "anon_hosting")


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def test_keys_rotate_and_old_tokens_keep_working(stack, site):
    backend = stack.containers("backend")[0]
    data = random_bytes(5000)
    before = upload(site, data, "before-rotation.bin")["token"]
    listed = stack.exec(backend, *FLASK, "keys", "list").stdout.splitlines()
    new_kid = stack.exec(backend, *FLASK, "keys", "rotate").stdout.split(": ")[1].strip()
    relisted = stack.exec(backend, *FLASK, "keys", "list").stdout.splitlines()
    assert len(relisted) == len(listed) + 1 and relisted[-1] == f"{new_kid}  (active)"
    after = upload(site, b"after rotation", "after-rotation.bin")["token"]
    assert kid_of(before) != new_kid and kid_of(after) == new_kid  # the running server took it up
    for token, digest in ((before, sha256(data)), (after, sha256(b"after rotation"))):
        response = retrieve(site, token)
        assert response.status_code == 200 and sha256(response.content) == digest


def test_sweep_on_demand(stack):
    result = stack.exec(stack.containers("backend")[0], *FLASK, "sweep")
    assert result.returncode == 0, result.stderr
