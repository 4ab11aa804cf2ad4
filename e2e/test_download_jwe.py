"""Journey 3: "Download .jwe" saves <original name>.jwe holding exactly the token."""

from playwright.sync_api import expect

from helpers import drop_and_send, open_page


def test_download_jwe_holds_the_token(page, tmp_path):
    open_page(page)
    drop_and_send(page, "budget 2026.xlsx", b"PK\x03\x04 not really a spreadsheet")
    expect(page.locator("#token-out")).to_be_visible()
    token = page.locator("#token-out").input_value()

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download .jwe").click()
    download = download_info.value
    assert download.suggested_filename == "budget 2026.xlsx.jwe"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_text(encoding="ascii") == token
