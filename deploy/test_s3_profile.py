"""The `s3` profile: SeaweedFS holds the blobs, two backend replicas share it, and a one-time
download raced across both replicas is served exactly once.

A project of its own (`<project>-s3`, on a free port, throw-away volumes) beside the main one.
"""

import json
import secrets
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import JWE, access_lines, random_bytes, retrieve, sha256, upload

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from compose import Compose  # noqa: E402

HERE = Path(__file__).resolve().parent
RACERS = 8
LIST_BUCKET = ("import boto3, os; c = boto3.client('s3', endpoint_url=os.environ['S3_ENDPOINT_URL']); "
               "print(len(c.list_objects_v2(Bucket=os.environ['S3_BUCKET']).get('Contents', [])))")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_stack(stack):
    s3 = Compose([HERE / "test-settings.yml", HERE / "s3-settings.yml"], env={
        "COMPOSE_PROJECT_NAME": f"{stack.project}-s3",
        "COMPOSE_PROFILES": "s3",
        "HTTP_PORT": str(free_port()),
        "S3_BUCKET": "anon-files",
        "AWS_ACCESS_KEY_ID": "anon-hosting",
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    })
    s3.prepare()
    try:
        s3.build()
        s3.up("--scale", "backend=2")
        yield s3
    finally:
        s3.down(volumes=True)


def test_seaweedfs_holds_the_blobs(s3_stack):
    site = s3_stack.url()
    backend = s3_stack.containers("backend")[0]
    before = int(s3_stack.exec(backend, "python3", "-c", LIST_BUCKET).stdout)
    data = random_bytes(9 * 1024 * 1024)  # more than one 8 MiB part: a multipart upload
    token = upload(site, data, "in-s3.bin")["token"]
    after = int(s3_stack.exec(backend, "python3", "-c", LIST_BUCKET).stdout)
    assert after == before + 3  # the blob, its state and its expiry marker (docs/scaling.md)
    for name in s3_stack.containers("backend"):
        # Nothing on the local volume but the sweeper's lock (one sweeper per host).
        assert s3_stack.exec(name, "find", "/data/files", "-type", "f", "!", "-name", ".sweeper.lock").stdout == ""
    response = retrieve(site, token)
    assert response.status_code == 200 and sha256(response.content) == sha256(data)


@pytest.mark.parametrize("round_", range(3))
def test_a_one_time_download_raced_across_replicas_is_served_once(s3_stack, round_):
    site = s3_stack.url()
    replicas = s3_stack.containers("backend")
    assert len(replicas) == 2
    data = random_bytes(3 * 1024 * 1024)
    token = upload(site, data, f"once-{round_}.bin", max_downloads=1)["token"]
    before = {name: access_lines(s3_stack, name, "POST /api/files/retrieve") for name in replicas}

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda _: retrieve(site, token), range(RACERS)))

    after = {name: access_lines(s3_stack, name, "POST /api/files/retrieve") for name in replicas}
    assert all(after[name] > before[name] for name in replicas), "the race did not reach both replicas"
    served = [a for a in answers if a.status_code == 200]
    assert len(served) == 1 and sha256(served[0].content) == sha256(data)
    for refused in (a for a in answers if a.status_code != 200):
        assert refused.status_code in (409, 410), refused.text
        assert json.loads(refused.text)["error"]["code"] in ("download_in_progress", "download_limit_reached")
    assert retrieve(site, token).status_code == 410


def test_no_token_in_any_log_of_the_s3_project(s3_stack):
    """SeaweedFS sees object names and the backends see tokens: neither may log one."""
    logs = {name: s3_stack.logs(name) for name in s3_stack.containers()}
    assert any("POST /api/files/retrieve" in text for text in logs.values())
    for name, text in logs.items():
        assert not JWE.findall(text), f"{name} logged a token"
