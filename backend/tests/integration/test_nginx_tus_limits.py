"""nginx's upload limit on resumable uploads, on the real stack (scripts/stack.py, its default limits: 10 uploads
a minute per address, a burst of 10, and the app's own limits behind them).

A flood of creations (POST /api/uploads) gets nginx's 429 in the API's JSON shape with Retry-After, and uses
up the address's upload allowance, which POST /api/files shares. An upload created before the flood goes on
all the while: its HEAD, PATCH and GET are never counted against that allowance.
"""

import os

import pytest
import requests

from .tus_client import TUS, Upload, b64url

MIB = 1 << 20
BURST = 10  # BURST_UPLOADS of the stack's default limits
FLOOD = 3 * BURST
NGINX_MESSAGE = "Too many requests from your address. Wait a minute and try again."


@pytest.fixture(scope="module")
def stack(serve_stack):
    with serve_stack("nginx-tus-limits") as running:
        yield running


def create(stack) -> requests.Response:
    headers = {**TUS, "Upload-Secret": b64url(os.urandom(32)), "Upload-Length": "5"}
    return requests.post(f"{stack.url}/api/uploads", headers=headers, timeout=30)


def assert_nginx_429(answer: requests.Response) -> None:
    assert answer.status_code == 429, answer.status_code  # an answer let through may hold tokens
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"error": {"code": "rate_limited", "message": NGINX_MESSAGE}}
    assert answer.headers["Retry-After"] == "60"
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_creation_flood_gets_429_and_an_upload_under_way_goes_on(stack):
    data = os.urandom(2 * MIB + 5)
    upload = Upload(stack.url, data)  # the first of the allowance
    assert upload.patch(0, MIB).status_code == 204

    codes = [create(stack).status_code for _ in range(FLOOD)]
    refused = codes.index(429)
    assert 0 < refused <= BURST and set(codes[:refused]) == {201}, codes
    assert codes[refused:].count(201) <= 1, codes  # the rate gives back one upload every 6 s
    assert_nginx_429(create(stack))
    plain = requests.post(f"{stack.url}/api/files", data=b"x", timeout=30,
                          headers={"Content-Type": "application/octet-stream", "X-File-Name": "x.txt"})
    assert_nginx_429(plain)  # one allowance for both kinds of upload

    for _ in range(2 * FLOOD):
        head = upload.head()
        assert head.status_code == 200 and head.headers["Upload-Offset"] == str(MIB)
    finished = upload.patch(MIB)
    assert finished.status_code == 200, finished.text
    assert upload.result().status_code == 200
    assert upload.download() == data
    assert_nginx_429(create(stack))  # still refused: the upload went on within the limit, not after it
