"""nginx's upload limit on resumable uploads, on the real stack (scripts/stack.py, its default limits: 10 uploads
a minute per address, a burst of 10, and the app's own limits behind them).

A flood of creations (POST /api/uploads) gets nginx's 429 in the API's JSON shape with Retry-After, and uses
up the address's upload allowance, which POST /api/files shares. An upload created before the flood goes on
all the while: its HEAD, PATCH and GET are never counted against that allowance.

Bundle members' creations (``bundle`` in Upload-Metadata) draw on an allowance of their own
(RATE_BUNDLE_FILES, a burst of 1000): 60 of them and their join pass where plain creations are refused past
the burst, and the member key buys nothing on POST /api/files.
"""

import os

import pytest
import requests

from .tus_client import OFFSET_TYPE, TUS, Upload, b64url, metadata

MIB = 1 << 20
BURST = 10  # BURST_UPLOADS of the stack's default limits
FLOOD = 3 * BURST
NGINX_MESSAGE = "Too many requests from your address. Wait a minute and try again."


@pytest.fixture(scope="module")
def stack(serve_stack):
    with serve_stack("nginx-tus-limits") as running:
        yield running


@pytest.fixture(scope="module")
def members_stack(serve_stack):
    """A stack of its own: the allowance the flood test uses up is this address's for a minute."""
    with serve_stack("nginx-tus-members") as running:
        yield running


def create(stack, meta: str | None = None, data: bytes | None = None, secret: bytes | None = None) -> requests.Response:
    headers = {**TUS, "Upload-Secret": b64url(secret or os.urandom(32)), "Upload-Length": str(len(data or b"12345"))}
    if meta is not None:
        headers["Upload-Metadata"] = meta
    if data is not None:
        headers["Content-Type"] = OFFSET_TYPE
    return requests.post(f"{stack.url}/api/uploads", headers=headers, data=data, timeout=30)


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


def test_bundle_members_and_their_join_pass_where_plain_creations_are_refused(members_stack):
    files, entries = [os.urandom(100 + n) for n in range(60)], []
    for n, data in enumerate(files):
        secret = os.urandom(32)
        answer = create(members_stack, metadata(filename=f"{n}.bin") + ",bundle ", data, secret)
        assert answer.status_code == 201, (n, answer.status_code, answer.text)
        assert answer.json()["kind"] == "member" and "token" not in answer.json()
        entries.append({"id": answer.headers["Location"].rpartition("/")[2], "secret": b64url(secret)})
    joined = requests.post(f"{members_stack.url}/api/bundles", json={"uploads": entries}, timeout=60)
    assert joined.status_code == 201, joined.text
    token = joined.json()["token"]
    for index in (0, 59):
        got = requests.post(f"{members_stack.url}/api/files/retrieve", json={"token": token, "file": index}, timeout=30)
        assert got.content == files[index]

    codes = [create(members_stack).status_code for _ in range(FLOOD)]
    refused = codes.index(429)
    assert 0 < refused <= BURST and set(codes[:refused]) == {201}, codes  # the join took one of the burst
    assert_nginx_429(create(members_stack))
    sneaky = requests.post(f"{members_stack.url}/api/files", data=b"x", timeout=30, headers={
        "Content-Type": "application/octet-stream", "X-File-Name": "x.txt", "Upload-Metadata": "bundle "})
    assert_nginx_429(sneaky)  # the member key counts on the one path that honours it
    assert_nginx_429(requests.post(f"{members_stack.url}/api/bundles", json={"uploads": entries[:2]},
                                   headers={"Upload-Metadata": "bundle "}, timeout=30))
    member = create(members_stack, "bundle ")
    assert member.status_code == 201 and member.json() == {}, member.text  # still their own allowance
