"""An S3 outage through a real gunicorn and a real SeaweedFS stopped mid-run: 503 with Retry-After, then recovery.

While the store is down, every route that needs it (and ``/api/ready``) answers ``503 storage_unavailable``
with ``Retry-After`` (never a 500), an upload in flight is refused the same way once its
body is in, and a download in flight is cut short (its headers are out: it can only end
early). The log names no object key. Once the store is back, everything stored before the
outage downloads again and new uploads work.
"""

import contextlib
import os

import pytest
import requests

from ..s3server import S3Server
from .server import GunicornServer
from .transfer import (
    connect,
    download_bytes,
    error_code,
    raw_upload_head,
    read_response,
    upload_raw,
    wait_until,
)

MIB = 1 << 20


@pytest.fixture
def outage(tmp_path_factory, log_audit):
    with S3Server(tmp_path_factory.mktemp("outage-s3")) as s3:
        server = GunicornServer(tmp_path_factory.mktemp("outage"), extra_env=s3.env(s3.new_bucket()))
        log_audit.watch(server)
        with server:
            yield s3, server


def assert_outage(response: requests.Response) -> None:
    assert (response.status_code, error_code(response)) == (503, "storage_unavailable"), response.text
    assert response.headers["Retry-After"].isdigit()


def test_an_s3_outage_is_503_with_retry_after_and_the_service_recovers(outage):
    s3, server = outage
    big, small = os.urandom(48 * MIB), b"small file"  # larger than the socket buffers on the way
    big_token = upload_raw(server, big, "big.bin").json()["token"]
    small_answer = upload_raw(server, small, "small.bin").json()
    keys = [obj["Key"] for obj in s3.client().list_objects_v2(Bucket=server.extra_env["S3_BUCKET"])["Contents"]]

    download = requests.post(server.url("/api/files/retrieve"), json={"token": big_token}, stream=True, timeout=60)
    pieces = download.iter_content(MIB)
    received = len(next(pieces))
    upload = connect(server)
    upload.sendall(raw_upload_head("in-flight.bin", content_length=3 * MIB) + b"u" * MIB)

    s3.stop()
    # The answer may come before the rest of the body, when the upload's first write to the store fails.
    with contextlib.suppress(OSError):
        upload.sendall(b"u" * (2 * MIB))
    status, body = read_response(upload)
    assert (status, b"storage_unavailable" in body) == (503, True), body
    with pytest.raises(requests.RequestException):  # the download in flight ends early
        for piece in pieces:
            received += len(piece)
    assert received < len(big)

    session = server.session()
    assert_outage(session.get(server.url("/api/ready"), timeout=60))
    assert session.get(server.url("/api/health"), timeout=60).status_code == 200  # liveness: the process answers
    assert_outage(upload_raw(server, b"new", "new.bin", session))
    for route in ("info", "retrieve"):
        assert_outage(session.post(server.url(f"/api/files/{route}"), json={"token": big_token}, timeout=60))
    assert_outage(session.post(server.url("/api/files/delete"), json={"token": small_answer["owner_token"]},
                               timeout=60))

    s3.restart()
    assert wait_until(lambda: session.get(server.url("/api/ready"), timeout=60).status_code == 200, timeout=60)
    assert download_bytes(server, big_token) == big
    assert download_bytes(server, small_answer["token"]) == small
    assert upload_raw(server, b"after", "after.bin", session).status_code == 201
    log = server.log_text()
    assert "storage unavailable (" in log
    assert not [key for key in keys if key.removesuffix(".state").rsplit("/", 1)[-1] in log]
    assert '" 500 ' not in log
    assert "Traceback" not in log
    assert "download broken off after " in log  # the download in flight: one line, with the cause's type
