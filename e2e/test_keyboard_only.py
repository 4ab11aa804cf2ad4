"""Journey 9: from upload to retrieve with the keyboard alone (Tab, Enter, Space)."""

import hashlib

from playwright.sync_api import expect

from helpers import open_page, sha256_file

MAX_TABS = 40


def tab_to(page, locator):
    """Press Tab until `locator` has focus, and check that the focus is visible."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            outline = locator.evaluate("el => getComputedStyle(el).outlineStyle")
            assert outline != "none", "keyboard focus must be visible"
            return
    raise AssertionError(f"Tab never reached {locator}")


def choose_with_key(page, key, path):
    """Press `key` on the focused picker button and answer the file chooser with `path`."""
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(key)
    chooser.value.set_files(path)


def test_keyboard_only_round_trip(page, tmp_path):
    data = b"typed with no mouse at all\n" * 100
    source = tmp_path / "keyboard.txt"
    source.write_bytes(data)
    open_page(page)

    tab_to(page, page.get_by_role("button", name="Choose a file"))
    choose_with_key(page, "Space", source)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#token-out")).to_be_visible()
    token = page.locator("#token-out").input_value()

    tab_to(page, page.get_by_role("button", name="Download .jwe"))
    with page.expect_download() as jwe_download:
        page.keyboard.press("Enter")
    jwe = tmp_path / jwe_download.value.suggested_filename
    jwe_download.value.save_as(jwe)
    assert jwe.name == "keyboard.txt.jwe" and jwe.read_text() == token

    tab_to(page, page.get_by_role("button", name="Open a .jwe file"))
    choose_with_key(page, "Enter", jwe)
    expect(page.locator("[data-retrieve='name']")).to_have_text("keyboard.txt")

    tab_to(page, page.get_by_role("button", name="Download", exact=True))
    with page.expect_download() as file_download:
        page.keyboard.press("Enter")
    saved = tmp_path / "downloaded.txt"
    file_download.value.save_as(saved)
    assert sha256_file(saved) == hashlib.sha256(data).hexdigest()
