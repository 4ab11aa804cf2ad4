"""Resumable uploads (tus) on the real stack, nginx in front of gunicorn, on local disk and on S3 (SeaweedFS).

Each case ends with a scan of everything the store holds: no plaintext, no secret, no file key, no name.
Connections are cut at chosen offsets (chunk and part boundaries, inside the last chunk, random), a worker
is killed with SIGKILL mid-PATCH, the whole stack restarts between two PATCHes, a second replica on the
same storage takes over, and tuspy, a tus client nobody here wrote, uploads and resumes with nothing but a
static Upload-Secret header. The last test searches every log for the secrets the module used.
"""

import io
import json
import os
import random
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from anon_hosting.crypto.stream import CHUNK_SIZE

from .server import NO_RATE_LIMITS, random_secret_key
from .tus_client import TUS, Upload, at_rest_local, at_rest_s3, b64url, file_key, forbidden, metadata, scan

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))

from stack import Stack  # noqa: E402

MIB = 1 << 20
PART = 8 * MIB  # the S3 backend's part (storage.partial_s3)
SIZE = 3 * PART + MIB + 123


class Deployment:
    """One storage (a folder, or a bucket) and key set, served by as many stacks as a test starts."""

    def __init__(self, root: Path, backend: str, s3_server=None, extra: dict | None = None):
        self.root, self.backend, self.s3_server = root, backend, s3_server
        self.env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": random_secret_key(),
                    "MAX_UPLOAD_BYTES": str(64 * MIB), **NO_RATE_LIMITS, **(extra or {})}
        if backend == "s3":
            self.bucket = s3_server.new_bucket()
            self.env.update(s3_server.env(self.bucket))
        self.workdirs: list[Path] = []
        self.secrets: list[bytes] = []

    def stack(self) -> Stack:
        workdir = self.root / f"work-{len(self.workdirs)}"
        self.workdirs.append(workdir)
        return Stack(storage_dir=self.root / "files", private_dir=self.root / "private", workdir=workdir,
                     env=self.env)

    def upload(self, stack: Stack, data: bytes, **options) -> Upload:
        upload = Upload(stack.url, data, **options)
        self.secrets.append(upload.secret)
        return upload

    def record(self, upload: Upload) -> dict:
        if self.backend == "local":
            return json.loads((self.root / "files" / ".uploads" / f"{upload.id}.json").read_bytes())
        body = self.s3_server.client().get_object(Bucket=self.bucket, Key=f"uploads/{upload.id}.json")["Body"]
        return json.loads(body.read())

    def stored(self, index_as_rows: bool = False) -> list[tuple[str, bytes]]:
        if self.backend == "local":
            return at_rest_local(self.root / "files", index_as_rows)
        return at_rest_s3(self.s3_server.client(), self.bucket)

    def assert_nothing_revealing(self, upload: Upload) -> None:
        key = file_key(upload, self.record(upload))
        assert scan(self.stored(), forbidden(upload, key)) == []

    def unfinished(self) -> list[str]:
        if self.backend == "local":
            folder = self.root / "files" / ".uploads"
            return sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        client = self.s3_server.client()
        keys = [u["Key"] for u in client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])]
        listed = client.list_objects_v2(Bucket=self.bucket, Prefix="uploads/").get("Contents", [])
        return sorted(keys + [obj["Key"] for obj in listed])


@pytest.fixture(scope="module", params=["local", "s3"])
def deployment(request, tmp_path_factory):
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (make system-deps)")
    s3 = request.getfixturevalue("s3_server") if request.param == "s3" else None
    yield Deployment(tmp_path_factory.mktemp(f"tus-{request.param}"), request.param, s3)


@pytest.fixture(scope="module")
def stack(deployment):
    with deployment.stack() as running:
        yield running


def test_cuts_at_ten_offsets_lose_at_most_the_uncommitted_tail(deployment, stack):
    data = os.urandom(SIZE)
    upload = deployment.upload(stack, data)
    rng = random.Random(25)
    cuts = sorted({CHUNK_SIZE, PART, 2 * PART, 2 * PART + 1, SIZE - 50, SIZE - 1,
                   *(rng.randrange(1, SIZE) for _ in range(4))})
    assert len(cuts) == 10
    for at in cuts:
        start = upload.offset()
        if at <= start:
            continue
        upload.cut(start, at)
        committed = wait_idle(upload)
        assert committed % CHUNK_SIZE == 0 and start <= committed <= at and committed < SIZE
    deployment.assert_nothing_revealing(upload)
    upload.resume()
    assert upload.download() == data
    assert upload.offset() == SIZE
    deployment.assert_nothing_revealing(upload)


def wait_idle(upload: Upload) -> int:
    """The offset once the cut request has let go of the upload (a zero-byte PATCH gets 204, not 423)."""
    for _ in range(200):
        offset = upload.offset()
        answer = upload.patch(offset, offset)
        if answer.status_code == 204:
            return int(answer.headers["Upload-Offset"])
        assert answer.status_code in (409, 423), answer.text
        threading.Event().wait(0.1)
    raise AssertionError("the cut request never let go of the upload")


def test_a_worker_killed_mid_patch_leaves_a_resumable_upload(deployment, stack):
    data = os.urandom(SIZE)
    upload = deployment.upload(stack, data)
    assert upload.patch(0, MIB).status_code == 204
    kill_workers_mid_patch(upload, stack)
    upload.resume()
    assert upload.download() == data
    deployment.assert_nothing_revealing(upload)


def kill_workers_mid_patch(upload: Upload, stack: Stack) -> None:
    """A PATCH kept open (its last bytes never sent) while every worker is killed with SIGKILL."""
    start = upload.offset()
    parts = urlsplit(stack.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = (f"PATCH {upload.location} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Secret: {b64url(upload.secret)}\r\nUpload-Offset: {start}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nContent-Length: {SIZE - start}\r\n\r\n")
    sock.sendall(head.encode() + upload.data[start:start + PART + 2 * MIB])
    for _ in range(300):  # until the worker has committed some of it
        if upload.offset() > start:
            break
        threading.Event().wait(0.1)
    for worker in psutil.Process(stack.gunicorn.pid).children():
        os.kill(worker.pid, signal.SIGKILL)
    sock.close()
    assert upload.offset() > start


def test_a_restart_of_the_whole_stack_between_two_patches(deployment, stack):
    data = os.urandom(SIZE)
    upload = deployment.upload(stack, data)
    assert upload.patch(0, PART + MIB).status_code == 204
    stack.stop()
    with deployment.stack() as again:
        assert upload.offset(again.url) == PART + MIB
        upload.resume(again.url)
        assert upload.download(again.url) == data
    stack.start()
    deployment.assert_nothing_revealing(upload)


def test_another_replica_resumes_and_answers_the_result(deployment, stack):
    data = os.urandom(SIZE)
    upload = deployment.upload(stack, data, passphrase="correct horse")
    assert upload.patch(0, 2 * PART).status_code == 204
    with deployment.stack() as other:
        upload.resume(other.url)
        again = upload.result(stack.url)
        assert again.status_code == 200 and again.json()["passphrase"] is True
        assert upload.download(stack.url) == data
    deployment.assert_nothing_revealing(upload)


def test_two_concurrent_patches_one_wins_and_nothing_is_corrupted(deployment, stack):
    data = os.urandom(2 * PART + 5)
    upload = deployment.upload(stack, data)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(upload.patch(0))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 200 and statuses[1] in (200, 409, 423), [answer.text for answer in answers]
    assert upload.download() == data


def test_hostile_requests_get_json_errors_and_change_nothing(deployment, stack):
    data = os.urandom(PART + MIB + 1)
    upload = deployment.upload(stack, data)
    assert upload.patch(0, PART).status_code == 204
    before, offset = deployment.stored(index_as_rows=True), upload.offset()
    other = b64url(os.urandom(32))
    url = upload.url()
    cases = [
        ("post", f"{stack.url}/api/uploads", {**TUS, "Upload-Length": "5"}, 400, "bad_request"),
        ("post", f"{stack.url}/api/uploads", {**TUS, "Upload-Length": "5", "Upload-Secret": "!!"}, 400, "bad_request"),
        ("post", f"{stack.url}/api/uploads", {**TUS, "Upload-Secret": other, "Upload-Defer-Length": "1"}, 400,
         "bad_request"),
        ("post", f"{stack.url}/api/uploads", {**TUS, "Upload-Secret": other, "Upload-Length": str(65 * MIB)}, 413,
         "too_large"),
        ("post", f"{stack.url}/api/uploads", {**TUS, "Upload-Secret": other, "Upload-Length": "5",
                                              "Upload-Metadata": metadata(max_downloads="x")}, 400, "bad_request"),
        ("head", url, {**TUS, "Upload-Secret": other}, 404, None),
        ("get", url, {**TUS, "Upload-Secret": other}, 404, "not_found"),
        ("delete", url, {**TUS, "Upload-Secret": other}, 404, "not_found"),
        ("patch", url, {**TUS, "Upload-Secret": other, "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream"}, 404, "not_found"),
        ("patch", url, {**TUS, "Upload-Secret": b64url(upload.secret), "Upload-Offset": "0",
                        "Content-Type": "application/offset+octet-stream"}, 409, "offset_mismatch"),
        ("patch", url, {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
         400, "bad_request"),
        ("head", f"{stack.url}/api/uploads/{'A' * 43}", {**TUS, "Upload-Secret": other}, 404, None),
        ("get", f"{stack.url}/api/uploads/not-an-id", {**TUS, "Upload-Secret": other}, 404, "not_found"),
        ("patch", url, {"Upload-Secret": b64url(upload.secret), "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream"}, 412, "unsupported_version"),
    ]
    for method, target, headers, status, code in cases:
        answer = getattr(upload.http, method)(target, headers=headers, data=b"x" * 10, timeout=30)
        assert answer.status_code == status, (method, headers, answer.text)
        if code is not None:
            assert answer.json()["error"]["code"] == code, (method, target, headers, answer.text)
    assert upload.offset() == offset
    assert sorted(deployment.stored(index_as_rows=True)) == sorted(before)
    upload.resume()
    assert upload.download() == data


def test_delete_removes_every_trace_of_an_unfinished_upload(deployment, stack):
    before = deployment.unfinished()
    upload = deployment.upload(stack, os.urandom(2 * PART + 1))
    assert upload.patch(0, PART).status_code == 204
    assert upload.delete().status_code == 204
    assert upload.head().status_code == 404
    assert deployment.unfinished() == before


def test_the_sweeper_removes_an_abandoned_upload(deployment, tmp_path):
    short = Deployment(tmp_path, deployment.backend, deployment.s3_server,
                       extra={"UPLOAD_SESSION_TTL": "2", "SWEEP_INTERVAL": "1"})
    with short.stack() as running:
        upload = short.upload(running, os.urandom(PART + MIB))
        assert upload.patch(0, PART).status_code == 204
        assert short.unfinished() != []
        for _ in range(300):
            if short.unfinished() == []:
                break
            threading.Event().wait(0.1)
        assert short.unfinished() == []
        assert upload.head().status_code == 404
    deployment.workdirs += short.workdirs
    deployment.secrets += short.secrets


def test_tuspy_uploads_and_resumes_with_a_static_secret_header(deployment, stack):
    from tusclient import client as tus  # noqa: PLC0415 - only this test needs it
    data = os.urandom(2 * PART + 77)
    secret = os.urandom(32)
    deployment.secrets.append(secret)
    headers = {"Upload-Secret": b64url(secret)}
    first = tus.TusClient(f"{stack.url}/api/uploads", headers=headers).uploader(
        file_stream=io.BytesIO(data), chunk_size=PART + MIB, metadata={"filename": "tuspy.bin"})
    first.upload(stop_at=PART + MIB)  # then the process "dies"
    again = tus.TusClient(f"{stack.url}/api/uploads", headers=headers).uploader(
        file_stream=io.BytesIO(data), chunk_size=4 * PART, url=first.url)
    assert again.offset == PART + MIB
    again.upload()
    assert again.request.status_code == 200
    # tuspy keeps no answer body: the same secret asks for the result again
    result = requests.get(first.url, headers={**TUS, **headers}, timeout=30)
    assert result.status_code == 200 and result.json()["name"] == "tuspy.bin"
    download = requests.post(f"{stack.url}/api/files/retrieve", json={"token": result.json()["token"]}, timeout=60)
    assert download.content == data


def test_no_secret_reaches_a_log(deployment, stack):
    logs = b"".join(path.read_bytes() for folder in deployment.workdirs for path in folder.rglob("*.log"))
    assert b"PATCH /api/uploads/" in logs  # the access logs are there to be searched
    for secret in deployment.secrets:
        for form in (secret, b64url(secret).encode(), secret.hex().encode()):
            assert form not in logs
