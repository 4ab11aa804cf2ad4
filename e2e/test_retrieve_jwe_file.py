"""Journey 5: retrieve with a saved .jwe file, chosen in the file picker or dropped on the card."""

import hashlib
import os

from playwright.sync_api import expect

from helpers import drop_file, open_page, sha256_file, upload_via_http


def check_and_download(page, name, data, tmp_path):
    expect(page.locator("[data-retrieve='info']")).to_be_visible()
    expect(page.locator("[data-retrieve='name']")).to_have_text(name)
    expect(page.locator("[data-retrieve='size']")).to_have_attribute("data-bytes", str(len(data)))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "downloaded"
    download_info.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()


def test_choose_a_jwe_file(page, base_url, tmp_path):
    data = os.urandom(50_000)
    stored = upload_via_http(base_url, data, "photo.jpg")
    jwe = tmp_path / "photo.jpg.jwe"
    jwe.write_text(stored["token"] + "\n", encoding="ascii")
    open_page(page)

    with page.expect_file_chooser() as chooser_info:
        page.get_by_role("button", name="Open a .jwe file").click()
    chooser_info.value.set_files(jwe)
    expect(page.locator("[data-retrieve='source']")).to_have_text("From “photo.jpg.jwe”.")
    check_and_download(page, "photo.jpg", data, tmp_path)


def test_drop_a_jwe_file_on_the_retrieve_card(page, base_url, tmp_path):
    data = os.urandom(10_000)
    stored = upload_via_http(base_url, data, "notes.md")
    open_page(page)

    drop_file(page, "notes.md.jwe", stored["token"].encode(), selector="[data-part='retrieve'] h2")
    check_and_download(page, "notes.md", data, tmp_path)
    # The drop went to the retrieve card, not to the uploader.
    expect(page.locator("[data-part='result']")).to_be_hidden()
