"""Journey 1: drop a file anywhere on the page -> it is staged beside the options -> Send -> the token
appears -> Copy token copies exactly it. A mistaken drop sends nothing, and a drop while a result is
shown asks before that result's tokens leave the screen."""

import re

from playwright.sync_api import expect

from helpers import drop_file, open_page, send_staged

UPLOAD = re.compile(r"/api/uploads$")  # a resumable upload's creation


def uploads_of(page) -> list:
    seen: list = []
    page.on("request", lambda r: seen.append(r) if UPLOAD.search(r.url) and r.method == "POST" else None)
    return seen


def test_drop_a_file_then_copy_the_token(page, clipboard):
    uploads = uploads_of(page)
    open_page(page)
    drop_file(page, "holiday notes.txt", b"hello from the drop zone\n", selector="main")
    expect(page.locator("[data-upload='staged-name']")).to_have_text("holiday notes.txt")
    expect(page.locator("[data-upload='staged-size']")).to_have_text("25 bytes")
    expect(page.get_by_label("Downloads allowed")).to_be_enabled()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_focused()
    assert uploads == []
    send_staged(page)

    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible()
    token = token_field.input_value()
    assert token.count(".") == 4 and len(token) > 100, token
    expect(page.locator("[data-result='name']")).to_have_text("holiday notes.txt")
    expect(page.locator("[data-result='size']")).to_contain_text("25 bytes")
    expect(page.locator("[data-result='expires']")).to_contain_text("In 7 days")

    page.get_by_role("button", name="Copy token").click()
    expect(page.locator("[data-upload='notice']")).to_have_text("Download token copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token

    share_link = page.locator("#share-link").input_value()
    assert share_link == f"{page.evaluate('location.origin')}/#{token}"
    assert len(uploads) == 1


def test_a_mistaken_drop_sends_nothing(page):
    uploads = uploads_of(page)
    open_page(page)
    drop_file(page, "tax-return.pdf", b"not for the internet")
    expect(page.locator("[data-upload='staged-name']")).to_have_text("tax-return.pdf")
    page.get_by_role("button", name="Remove this file").click()
    expect(page.get_by_role("button", name="Choose a file")).to_be_focused()
    expect(page.locator("[data-upload='staged-name']")).to_be_hidden()
    assert uploads == []


def test_the_options_chosen_after_the_drop_are_used(page):
    open_page(page)
    drop_file(page, "once.txt", b"read me once")
    page.get_by_label("Downloads allowed").select_option(label="Burn after reading: one download")
    send_staged(page)
    expect(page.locator("[data-result='downloads']")).to_have_text("1 (burn after reading)")


def test_drop_another_file_while_a_result_is_shown(page):
    open_page(page)
    drop_file(page, "first.txt", b"one")
    send_staged(page)
    expect(page.locator("[data-result='name']")).to_have_text("first.txt")
    first = page.locator("#token-out").input_value()

    drop_file(page, "second.txt", b"two", selector="main")
    expect(page.get_by_role("button", name="No, keep this result")).to_be_focused()
    expect(page.locator("[data-result='replace']")).to_contain_text("Send “second.txt” next?")
    page.get_by_role("button", name="No, keep this result").click()
    expect(page.locator("[data-result='replace']")).to_be_hidden()
    assert page.locator("#token-out").input_value() == first

    drop_file(page, "second.txt", b"two", selector="main")
    page.get_by_role("button", name="Yes, go on").click()
    expect(page.locator("[data-upload='staged-name']")).to_have_text("second.txt")
    send_staged(page)
    expect(page.locator("[data-result='name']")).to_have_text("second.txt")
    assert page.locator("#token-out").input_value() != first
