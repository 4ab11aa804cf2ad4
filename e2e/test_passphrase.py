"""Journey 12: a file with a passphrase. The link alone opens nothing.

The sender sets a passphrase (non-ASCII, to test the percent-encoded
X-Passphrase header); the share link then asks for it, refuses a wrong one
with a message and keeps the field, and with the right one shows the file
and downloads the same bytes. The passphrase never appears in a URL.
"""

import hashlib
import os

from playwright.sync_api import expect

from helpers import open_page, sha256_file, upload_via_ui

PASSPHRASE = "blue whale – ünïcödé 🐋 42"


def test_passphrase_round_trip(page, tmp_path):
    data = os.urandom(150_000)
    source = tmp_path / "contract.docx"
    source.write_bytes(data)

    # The Show/Hide button reveals what was typed, then hides it again.
    open_page(page)
    field = page.get_by_label("Passphrase (optional)")
    field.fill("peek")
    page.get_by_role("button", name="Show passphrase").click()
    expect(field).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide passphrase").click()
    expect(field).to_have_attribute("type", "password")

    upload_via_ui(page, source, passphrase=PASSPHRASE)
    expect(page.locator("[data-result='passphrase']")).to_have_text("Yes: the recipient needs it too")
    expect(page.locator("[data-result='passphrase-note']")).to_be_visible()
    expect(page.get_by_label("Passphrase (optional)")).to_have_value("")  # it belonged to that file
    link = page.locator("#share-link").input_value()

    requests_seen = []
    page.on("request", lambda r: requests_seen.append(r))
    page.goto("about:blank")
    page.goto(link)
    notice = page.locator("[data-retrieve='notice']")
    unlock_field = page.get_by_label("Passphrase", exact=True)
    expect(notice).to_have_text("This file is protected by a passphrase. Enter it to continue.")
    expect(unlock_field).to_be_focused()
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()

    unlock_field.fill("blue whale")
    page.get_by_role("button", name="Unlock").click()
    expect(notice).to_have_text("That passphrase is not right. Check it and try again.")
    expect(unlock_field).to_be_visible()
    expect(unlock_field).to_have_value("blue whale")
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()

    unlock_field.fill(PASSPHRASE)
    unlock_field.press("Enter")
    expect(page.locator("[data-retrieve='name']")).to_have_text("contract.docx")
    expect(page.locator("[data-retrieve='source']")).to_have_text("From the share link. Unlocked with its passphrase.")
    expect(unlock_field).to_be_hidden()

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "downloaded.docx"
    download_info.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()

    retrieves = [r for r in requests_seen if r.url.endswith("/api/files/retrieve")]
    assert len(retrieves) == 1 and "passphrase=" in (retrieves[0].post_data or "")
    assert not [r for r in requests_seen if "passphrase" in r.url or "whale" in r.url]
