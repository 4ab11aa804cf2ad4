"""Journey 11: burn after reading. One download, then the link is dead for everyone.

The sender picks "Burn after reading" in the page; browser A opens the share
link and downloads (the same bytes, and "Downloads left" follows); browser B
then opens the same link and is told the file was already downloaded, with
no Download button and no download. And while someone else's download holds
the last slot, Download says so on the page and works once that one gives up.
"""

import hashlib
import os
import time

import requests
from playwright.sync_api import expect

from helpers import sha256_file, upload_via_http, upload_via_ui

BURN = "Burn after reading: one download"


def test_burn_after_reading(page, new_context, tmp_path):
    data = os.urandom(200_000)
    source = tmp_path / "read-once.pdf"
    source.write_bytes(data)
    upload_via_ui(page, source, downloads=BURN)
    expect(page.locator("[data-result='downloads']")).to_have_text("1 (burn after reading)")
    expect(page.locator("[data-result='recipient-hint']")).to_contain_text(
        "Each one opens the file until it expires or has been downloaded once."
    )
    link = page.locator("#share-link").input_value()

    reader = new_context().new_page()
    reader.goto(link)
    expect(reader.locator("[data-retrieve='downloads']")).to_have_text("1")
    with reader.expect_download() as download_info:
        reader.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "downloaded.pdf"
    download_info.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()
    # The page asks info again after the download and sees the file used up.
    expect(reader.locator("[data-retrieve='downloads']")).to_have_text("0 (already downloaded)", timeout=60_000)
    expect(reader.get_by_role("button", name="Download", exact=True)).to_be_hidden()
    expect(reader.locator("[data-retrieve='heading']")).to_have_text("Downloaded: no downloads left")

    late = new_context().new_page()
    downloads, retrieves = [], []
    late.on("download", lambda d: downloads.append(d))
    late.on("request", lambda r: retrieves.append(r) if r.url.endswith("/api/files/retrieve") else None)
    late.goto(link)
    expect(late.locator("[data-retrieve='notice']")).to_contain_text("already downloaded")
    expect(late.locator("[data-retrieve='info']")).to_be_hidden()
    expect(late.get_by_role("button", name="Download", exact=True)).to_be_hidden()
    assert downloads == [] and retrieves == []


def test_download_while_the_last_allowed_one_is_running(page, base_url, tmp_path):
    # Someone else is in the middle of the only allowed download. Clicking Download must explain that on the
    # page, never swap the page for the server's 409 JSON, and work once the other download has given up.
    # Far more than the socket buffers between gunicorn, nginx and this client can hold (they grow to several
    # MiB each on loopback), so the other download stays mid-stream, its slot held, while it reads nothing.
    data = os.urandom(128 * 1024 * 1024)
    token = upload_via_http(base_url, data, "busy.bin", max_downloads=1)["token"]
    other = requests.post(f"{base_url}/api/files/retrieve", json={"token": token}, stream=True, timeout=30)
    assert other.status_code == 200
    next(other.iter_content(1024 * 1024))
    info = lambda: requests.post(f"{base_url}/api/files/info", json={"token": token}, timeout=10).json()  # noqa: E731
    assert info()["downloads_in_progress"] == 1

    page.goto(f"{base_url}/#{token}")
    expect(page.locator("[data-retrieve='downloads']")).to_have_text("1")
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.get_by_role("button", name="Download", exact=True).click()
    expect(page.locator("[data-retrieve='notice']")).to_contain_text("running right now")
    expect(page.get_by_role("button", name="Download", exact=True)).to_be_visible()
    assert downloads == []

    other.close()  # the other download breaks off: its slot comes back
    deadline = time.monotonic() + 60
    while info()["downloads_in_progress"] and time.monotonic() < deadline:
        time.sleep(0.5)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "busy.bin"
    download_info.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()
