"""nginx's rate limits: a burst past them gets 429 in the API's JSON shape,
with Retry-After and every security header; the page turns it into "wait".

Stacks of their own (the session stack has its limits out of reach):
- `tight`: 1 upload and 1 token request per minute, bursts of 1 and 2; the
  app's own limits off, so every 429 here is nginx's.
- `loose`: nginx's rates out of reach but 2 requests in progress per
  address, and the app's token limit at 3 a minute, to show that a
  client-sent X-Forwarded-For cannot buy a fresh allowance.
- `counted`: only the app's token limit, 3 a minute, one worker; a download
  refused after the page's own info check shows a page that says why.
- `defaults`: nginx's and the app's default limits; a page bundle of 25 files
  (a member creation each, then the join) meets no 429.
Skipped without nginx (E2E_NGINX=0 or not installed).
"""

import io
import secrets
import socket
import time
import zipfile

import pytest
import requests
from playwright.sync_api import expect

from helpers import assert_security_headers, check_token, upload_via_http
from stack import NGINX_LIMITS, NO_NGINX_LIMITS, Stack

APP_LIMITS_OFF = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0"}
TIGHT = {"RATE_UPLOADS": "1r/m", "BURST_UPLOADS": "1", "RATE_TOKENS": "1r/m", "BURST_TOKENS": "2",
         "CONN_PER_IP": "20"}
SLOW_UPLOAD = (b"POST /api/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
               b"X-File-Name: slow.bin\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)


def own_stack(root, app_env, limits):
    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48), **app_env}
    running = Stack(storage_dir=root / "f", private_dir=root / "p", workdir=root / "w", env=env,
                    nginx_limits=limits)
    if not running.use_nginx:
        pytest.skip("nginx is not installed")
    return running


@pytest.fixture(scope="module")
def tight(tmp_path_factory, stack):
    if not stack.use_nginx:
        pytest.skip("checks nginx itself")
    with own_stack(tmp_path_factory.mktemp("tight"), APP_LIMITS_OFF, TIGHT) as running:
        yield running


@pytest.fixture(scope="module")
def loose(tmp_path_factory, stack):
    if not stack.use_nginx:
        pytest.skip("checks nginx itself")
    # One worker: the app counts per process.
    app_env = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "3/minute", "WEB_CONCURRENCY": "1"}
    with own_stack(tmp_path_factory.mktemp("loose"), app_env, {**NO_NGINX_LIMITS, "CONN_PER_IP": "2"}) as running:
        yield running


@pytest.fixture(scope="module")
def defaults(tmp_path_factory, stack):
    if not stack.use_nginx:
        pytest.skip("checks nginx itself")
    with own_stack(tmp_path_factory.mktemp("defaults"), {}, NGINX_LIMITS) as running:
        yield running


def info(url, **headers):
    return requests.post(f"{url}/api/files/info", json={"token": "not-a-token"}, headers=headers, timeout=10)


def until_limited(send, tries=20):
    """Send until the first 429 (which is returned), or fail after `tries`."""
    for _ in range(tries):
        response = send()
        if response.status_code == 429:
            return response
        assert response.status_code in (201, 400), response.text
    raise AssertionError(f"no 429 after {tries} requests")


def assert_nginx_429(response):
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.headers["Retry-After"] == "60"
    assert response.raw.headers.getlist("Cache-Control") == ["no-store"]
    assert_security_headers(response)


def test_token_burst_gets_json_429(tight):
    codes = [info(tight.url).status_code for _ in range(6)]
    # At most the rate's one plus a burst of two get through; the rest are refused.
    assert codes.count(400) <= 3 and codes[-1] == 429, codes
    assert_nginx_429(info(tight.url))
    assert requests.get(f"{tight.url}/api/config", timeout=10).status_code == 200  # not a token endpoint


def test_upload_burst_gets_json_429(tight):
    def upload():
        return requests.post(f"{tight.url}/api/files", data=b"x", timeout=10,
                             headers={"Content-Type": "application/octet-stream", "X-File-Name": "x.txt"})

    assert_nginx_429(until_limited(upload, tries=4))


def test_a_bundle_join_counts_as_an_upload(tight):
    def join():
        return requests.post(f"{tight.url}/api/bundles", json={"uploads": []}, timeout=10)

    assert_nginx_429(until_limited(join, tries=4))


def test_page_says_wait(page, tight):
    until_limited(lambda: info(tight.url))
    page.goto(f"{tight.url}/")
    check_token(page, "not-a-token")
    expect(page.locator("[data-retrieve='notice']")).to_have_text(
        "Too many tries in a short time. Wait 1 minute, then try again."
    )


def test_connections_per_address(loose):
    """Two uploads in progress hold both of this address's slots; a third request gets 429."""
    held = [socket.create_connection(("127.0.0.1", loose.web_port), timeout=10) for _ in range(2)]
    try:
        for conn in held:
            conn.sendall(SLOW_UPLOAD)
        deadline = time.monotonic() + 30
        while (response := requests.get(f"{loose.url}/api/config", timeout=10)).status_code != 429:
            assert response.status_code == 200
            assert time.monotonic() < deadline, "the connection limit never applied"
        assert_nginx_429(response)
    finally:
        for conn in held:
            conn.close()


def test_forwarded_for_from_the_client_is_ignored(loose):
    """nginx replaces X-Forwarded-For: new made-up addresses get no fresh allowance from the app."""
    codes = [info(loose.url, **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in range(1, 7)]
    assert codes[:3] == [400, 400, 400] and 429 in codes[3:], codes


def test_a_download_refused_after_the_check_shows_a_page_saying_why(page, tmp_path, stack):
    """The window the page cannot close: Download checks info, then posts the form as a navigation. If the
    server refuses that post (here the app's token limit, reached by the form itself), the browser shows
    the answer in place of the site: a page with the reason, never the raw JSON."""
    if not stack.use_nginx:
        pytest.skip("checks nginx itself")
    app_env = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "3/minute", "WEB_CONCURRENCY": "1"}
    with own_stack(tmp_path, app_env, NO_NGINX_LIMITS) as counted:
        token = upload_via_http(counted.url, b"on time", "late.txt")["token"]
        assert info(counted.url).status_code == 400  # the first of the minute's three
        page.goto(f"{counted.url}/")
        expect(page.locator("[data-upload='limits']")).to_contain_text("Up to")
        check_token(page, token)  # the second
        expect(page.locator("[data-retrieve='name']")).to_have_text("late.txt")
        page.get_by_role("button", name="Download", exact=True).click()  # info, the third; the form, refused
        expect(page.get_by_role("heading", level=1)).to_have_text("The download did not start")
        expect(page.get_by_text("Too many requests from your address. Wait a moment and try again.")).to_be_visible()
        assert "rate_limited" not in page.content() and '{"error"' not in page.content()
        page.get_by_role("link", name="Go to the start page").click()
        expect(page.get_by_label("Token or share link")).to_be_visible()


def test_a_page_bundle_of_25_files_meets_no_429_at_the_default_limits(page, defaults):
    """Each file's creation draws on the allowance for bundle files, the join alone on the uploads'."""
    answers = []
    page.on("response", lambda r: answers.append((r.request.method, r.url.rpartition("/api/")[2], r.status))
            if "/api/" in r.url else None)
    # 10 MiB in all: over the page's one-request size, so each file goes through tus
    files = {f"photos/{n:02}.txt": f"photo {n:02}\n".encode() * (40 << 10) for n in range(25)}
    page.goto(f"{defaults.url}/")
    expect(page.locator("[data-upload='limits']")).to_contain_text("Up to")
    page.locator("[data-upload='input']").set_input_files(
        [{"name": name.rpartition("/")[2], "mimeType": "text/plain", "buffer": data} for name, data in files.items()])
    expect(page.locator("[data-upload='staged-name']")).to_have_text("25 files")
    page.locator("[data-upload='send']").click()
    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible(timeout=30_000)  # a page that waited out 429s would take minutes
    assert [status for *_, status in answers if status == 429] == [], answers
    posts = [(path, status) for method, path, status in answers if method == "POST"]
    assert posts == [("uploads", 201)] * 25 + [("bundles", 201)], posts
    zipped = requests.post(f"{defaults.url}/api/files/retrieve", json={"token": token_field.input_value()}, timeout=30)
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert sorted(archive.read(n) for n in archive.namelist()) == sorted(files.values())
