"""Journey 1: drop a file anywhere on the page -> the token appears -> Copy token copies exactly it."""

from playwright.sync_api import expect

from helpers import drop_file, open_page


def test_drop_a_file_then_copy_the_token(page, clipboard):
    open_page(page)
    drop_file(page, "holiday notes.txt", b"hello from the drop zone\n", selector="main")

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


def test_drop_another_file_while_a_result_is_shown(page):
    open_page(page)
    drop_file(page, "first.txt", b"one")
    expect(page.locator("[data-result='name']")).to_have_text("first.txt")
    first = page.locator("#token-out").input_value()

    drop_file(page, "second.txt", b"two", selector="main")
    expect(page.locator("[data-result='name']")).to_have_text("second.txt")
    assert page.locator("#token-out").input_value() != first
