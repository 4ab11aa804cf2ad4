"""Journey 8: what goes wrong is said plainly, in the aria-live notice."""

import time

from playwright.sync_api import expect

from conftest import MAX_UPLOAD_BYTES
from helpers import check_token, open_page, upload_via_http, write_file


def retrieve_notice(page):
    notice = page.locator("[data-retrieve='notice']")
    assert notice.get_attribute("aria-live") == "polite"
    return notice


def test_garbage_token(page):
    open_page(page)
    check_token(page, "this is not a token")
    expect(retrieve_notice(page)).to_have_text(
        "That token is not valid. Check that you copied all of it, with nothing added."
    )
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()


def test_tampered_token(page, base_url):
    token = upload_via_http(base_url, b"secret", "secret.txt")["token"]
    parts = token.split(".")
    ciphertext = parts[3]
    middle = len(ciphertext) // 2
    flipped = "A" if ciphertext[middle] != "A" else "B"
    parts[3] = ciphertext[:middle] + flipped + ciphertext[middle + 1 :]
    open_page(page)
    check_token(page, ".".join(parts))
    expect(retrieve_notice(page)).to_contain_text("That token is not valid.")


def test_empty_token(page):
    open_page(page)
    page.get_by_role("button", name="Check token").click()
    expect(retrieve_notice(page)).to_have_text("Paste a token or a share link first.")


def test_too_large_file_is_refused_before_sending(page, tmp_path):
    big = tmp_path / "disk-image.iso"
    with open(big, "wb") as sparse:
        sparse.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk
    uploads = []
    page.on("request", lambda r: uploads.append(r) if r.url.split("?")[0].endswith("/api/files") else None)
    open_page(page)
    expect(page.locator("[data-upload='limits']")).to_contain_text("Up to 256 MiB per file.")

    page.locator("[data-upload='input']").set_input_files(big)
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "“disk-image.iso” is 256 MiB. This server accepts files up to 256 MiB, so it was not sent."
    )
    assert uploads == []
    expect(page.get_by_role("button", name="Choose a file")).to_be_enabled()


def test_expired_file(page, base_url):
    token = upload_via_http(base_url, b"short-lived", "gone-soon.txt", expires_in=1)["token"]
    time.sleep(2.2)
    open_page(page)
    check_token(page, token)
    expect(retrieve_notice(page)).to_have_text("This file has expired and is no longer available.")


def test_network_failure(page, base_url):
    token = upload_via_http(base_url, b"x", "x.txt")["token"]
    open_page(page)
    page.route("**/api/files/info", lambda route: route.abort())
    check_token(page, token)
    expect(retrieve_notice(page)).to_have_text(
        "Could not reach the server. Check your connection and try again."
    )


def test_cancel_an_upload(page, tmp_path):
    source = write_file(tmp_path / "cancel-me.bin", 20_000_000)
    open_page(page)
    # Throttle the upload (about 2 MB/s) so there is time to cancel it.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2_000_000},
    )
    page.locator("[data-upload='input']").set_input_files(source)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("[data-progress='bytes']")).not_to_have_text("0 bytes of 19.07 MiB")
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("[data-upload='notice']")).to_have_text("Upload cancelled. Nothing was stored.")
    # The file stays chosen: Send again, or remove it.
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_focused()
    expect(page.locator("[data-upload='staged-name']")).to_have_text("cancel-me.bin")
    expect(page.locator("[data-part='result']")).to_be_hidden()


def test_file_expires_between_check_and_download(page, base_url):
    """Info is checked again before the form POST, so the page never turns into JSON.

    The expiry in between is simulated (the second info call answers 410) so
    the test does not depend on timing; real expiry is test_expired_file.
    """
    token = upload_via_http(base_url, b"brief", "brief.txt")["token"]
    open_page(page)
    check_token(page, token)
    expect(page.locator("[data-retrieve='name']")).to_have_text("brief.txt")
    retrieves = []
    page.on("request", lambda r: retrieves.append(r) if r.url.endswith("/api/files/retrieve") else None)
    page.route(
        "**/api/files/info",
        lambda route: route.fulfill(
            status=410,
            content_type="application/json",
            body='{"error": {"code": "expired", "message": "This file has expired."}}',
        ),
    )

    page.get_by_role("button", name="Download", exact=True).click()
    expect(retrieve_notice(page)).to_have_text("This file has expired and is no longer available.")
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()
    assert retrieves == []
    assert page.url.rstrip("/") == base_url
