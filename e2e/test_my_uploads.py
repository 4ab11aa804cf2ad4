"""Journey: My uploads. "Keep this upload in this browser" (off by default, then remembered) lists the
upload with its live status; it can be copied, shown as a QR code, deleted with its owner token, and
cleared once gone. An owner token pasted in "Get a file back" offers "Delete this file"."""

import requests
from playwright.sync_api import expect

from helpers import check_token, drop_and_send, open_page, upload_via_http

HOSTILE = '<img src=x onerror="alert(1)">.txt'


def test_keep_an_upload_then_follow_and_delete_it(page, base_url, clipboard):
    open_page(page)
    expect(page.locator("[data-part='mine']")).to_be_hidden()
    drop_and_send(page, HOSTILE, b"mine")
    keep = page.get_by_label("Keep this upload in this browser")
    expect(keep).not_to_be_checked()
    keep.check()
    token = page.locator("#token-out").input_value()

    page.get_by_role("button", name="Send another file").click()
    drop_and_send(page, "second.txt", b"kept because the choice stays chosen")
    expect(page.locator("[data-result='name']")).to_have_text("second.txt")
    expect(page.get_by_label("Keep this upload in this browser")).to_be_checked()

    page.reload()
    panel = page.locator("[data-part='mine']")
    expect(panel).to_be_visible()
    expect(panel.locator("summary")).to_have_text("My uploads (2)")
    requests.post(f"{base_url}/api/files/retrieve", json={"token": token}, timeout=30).raise_for_status()
    panel.locator("summary").click()
    first = panel.locator(".mine-item").filter(has_text=HOSTILE)
    expect(first.locator(".mine-name")).to_have_text(HOSTILE)
    assert panel.locator("img").count() == 0
    expect(first).to_contain_text("unlimited downloads")

    first.get_by_role("button", name="Copy link").click()
    assert page.evaluate("navigator.clipboard.readText()").endswith(f"/#{token}")
    first.get_by_role("button", name="QR code").click()
    expect(first.locator(".qr-code svg")).to_be_visible()

    first.get_by_role("button", name="Delete").click()
    first.get_by_role("button", name="Yes, delete").click()
    expect(panel.locator("summary")).to_have_text("My uploads (1)")
    check_token(page, token)
    expect(page.locator("[data-retrieve='notice']")).to_contain_text("There is no file for this token")


def test_gone_uploads_can_be_cleared(page, base_url):
    open_page(page)
    drop_and_send(page, "burn.txt", b"once")
    page.get_by_label("Keep this upload in this browser").check()
    token = page.locator("#token-out").input_value()
    owner = page.locator("#owner-out").input_value()
    requests.post(f"{base_url}/api/files/delete", json={"token": owner}, timeout=30).raise_for_status()
    page.reload()
    panel = page.locator("[data-part='mine']")
    panel.locator("summary").click()
    expect(panel.locator(".mine-item")).to_contain_text("deleted")
    panel.get_by_role("button", name="Clear uploads that are gone").click()
    expect(panel).to_be_hidden()
    assert token not in page.evaluate("JSON.stringify(localStorage)")


def test_an_owner_token_pasted_offers_delete(page, base_url):
    stored = upload_via_http(base_url, b"to delete", "old.txt")
    open_page(page)
    check_token(page, stored["owner_token"])
    page.get_by_role("button", name="Delete this file").click()
    expect(page.locator("[data-retrieve='notice']")).to_have_text("The file is deleted. Its links no longer work.")
    check_token(page, stored["token"])
    expect(page.locator("[data-retrieve='notice']")).to_contain_text("There is no file for this token")
