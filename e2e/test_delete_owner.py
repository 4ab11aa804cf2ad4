"""Journey 13: the owner token. Keep it to delete the file; it cannot download it.

The sender saves the owner token (<name>.owner-token, the name the CLI uses), then deletes the file
from the result card with the keyboard-friendly confirm step; the download
token then finds nothing. An owner token pasted in "Get a file back" says
what it is instead of downloading.
"""

from playwright.sync_api import expect

from helpers import check_token, open_page, upload_via_http, upload_via_ui

NOT_FOUND = "There is no file for this token. It may have expired or been deleted."


def test_delete_now(page, tmp_path):
    source = tmp_path / "draft.txt"
    source.write_bytes(b"second thoughts\n" * 50)
    token = upload_via_ui(page, source)
    owner_field = page.get_by_role("textbox", name="Owner token")
    expect(owner_field).to_be_visible()
    owner = owner_field.input_value()
    assert owner and owner != token

    with page.expect_download() as saved_info:
        page.get_by_role("button", name="Save owner token").click()
    assert saved_info.value.suggested_filename == "draft.txt.owner-token"
    saved = tmp_path / "draft.txt.owner-token"
    saved_info.value.save_as(saved)
    assert saved.read_text() == owner

    # Ask, back out with "No": nothing happens and focus returns.
    delete = page.get_by_role("button", name="Delete now")
    delete.click()
    no = page.get_by_role("button", name="No, keep it")
    expect(no).to_be_focused()
    page.keyboard.press("Enter")
    expect(no).to_be_hidden()
    expect(delete).to_be_focused()

    # Ask again; Escape backs out too; then Yes, all from the keyboard.
    page.keyboard.press("Enter")
    expect(no).to_be_focused()
    page.keyboard.press("Escape")
    expect(delete).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Yes, delete")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("[data-result='deleted']")).to_be_visible()
    expect(page.locator("[data-result='deleted']")).to_contain_text("Deleted. The link no longer works.")
    expect(page.locator("[data-result='title']")).to_have_text("File deleted")
    expect(page.locator("[data-upload='notice']")).to_have_text("“draft.txt” is deleted.")
    expect(page.locator("#token-out")).to_be_hidden()
    expect(owner_field).to_be_hidden()

    check_token(page, token)
    expect(page.locator("[data-retrieve='notice']")).to_have_text(NOT_FOUND)
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()


def test_owner_token_cannot_download(page, base_url):
    stored = upload_via_http(base_url, b"mine", "mine.txt")
    open_page(page)
    check_token(page, stored["owner_token"])
    expect(page.locator("[data-retrieve='notice']")).to_have_text(
        "This is an owner token: it can delete its file, not download it."
    )
    expect(page.get_by_role("button", name="Delete this file")).to_be_focused()
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()
