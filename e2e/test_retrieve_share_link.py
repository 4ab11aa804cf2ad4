"""Journey 6: open a share link -> info shown, #token gone from the URL, nothing downloaded before the click."""

import hashlib
import os

from playwright.sync_api import expect

from helpers import sha256_file, upload_via_http


def test_open_share_link(page, base_url, tmp_path):
    data = os.urandom(123_456)
    stored = upload_via_http(base_url, data, "slides.key")
    token = stored["token"]
    requests_seen = []
    page.on("request", lambda request: requests_seen.append(request))

    page.goto(f"/#{token}")
    expect(page.locator("[data-retrieve='info']")).to_be_visible()
    expect(page.locator("[data-retrieve='name']")).to_have_text("slides.key")
    expect(page.locator("[data-retrieve='source']")).to_have_text("From the share link.")

    assert page.url == f"{base_url}/", page.url
    assert page.evaluate("location.hash") == ""
    assert not [r for r in requests_seen if r.url.endswith("/api/files/retrieve")]
    for request in requests_seen:
        assert token not in request.url
        assert "referer" not in request.headers or token not in request.headers["referer"]
    info_calls = [r for r in requests_seen if r.url.endswith("/api/files/info")]
    assert info_calls and all(r.method == "POST" for r in info_calls)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    retrieves = [r for r in requests_seen if r.url.endswith("/api/files/retrieve")]
    assert len(retrieves) == 1 and retrieves[0].method == "POST"
    assert "referer" not in retrieves[0].headers
    saved = tmp_path / "downloaded"
    download_info.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()
