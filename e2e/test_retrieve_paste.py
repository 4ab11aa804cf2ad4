"""Journey 4: paste a token -> the info shows the right name and size -> the download is byte-identical."""

import hashlib
import os

from playwright.sync_api import expect

from helpers import open_page, sha256_file, upload_via_http

NAME = "résumé – final ✓.txt"


def test_paste_token_then_download(page, base_url, tmp_path):
    data = os.urandom(300_000)
    stored = upload_via_http(base_url, data, NAME)
    open_page(page)

    page.get_by_label("Token or share link").fill(stored["token"])
    page.get_by_role("button", name="Check token").click()

    info = page.locator("[data-retrieve='info']")
    expect(info).to_be_visible()
    expect(page.locator("[data-retrieve='name']")).to_have_text(NAME)
    expect(page.locator("[data-retrieve='size']")).to_have_attribute("data-bytes", str(len(data)))
    expect(page.locator("[data-retrieve='size']")).to_contain_text("300,000 bytes")
    expect(page.locator("[data-retrieve='downloads']")).to_have_text("Unlimited")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == NAME
    saved = tmp_path / "downloaded"
    download.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()
    # The page itself stayed put: a download, not a navigation.
    assert page.url.rstrip("/") == base_url
