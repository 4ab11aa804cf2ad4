"""Journey: a resumable upload (tus) survives a dropped network, a closed tab and a cancel.

page.route aborts the upload's requests after its creation and the page shows "Reconnecting…" while
tus-js-client retries; once they go through again the download equals the dropped file. A tab closed in the
middle of the PATCH leaves the server with whole chunks, and the same file dropped in a new tab of the same
browser resumes from that offset; the page forgets the upload's URL and secret once it is done. Cancel sends
DELETE.
"""

import re

from playwright.sync_api import expect

from helpers import check_token, open_page, saved_download, sha256_file, throttle, wait_for_progress, write_file

MIB = 1 << 20
SIZE = 40 * MIB + 321  # over 8 MiB: a creation, then one PATCH with the whole file
UPLOADS = re.compile(r".*/api/uploads/[A-Za-z0-9_-]+$")
STORED = "Object.keys(localStorage).filter((key) => key.startsWith('anon-hosting.resume.'))"


def send(page, path):
    page.locator("[data-upload='input']").set_input_files(path)
    page.get_by_role("button", name="Send", exact=True).click()


def download(page, tmp_path):
    check_token(page, page.locator("#token-out").input_value())
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download", exact=True).click()
    folder = tmp_path / "downloaded"  # apart from the source, which has the same name
    folder.mkdir()
    return saved_download(info.value, folder)


def test_aborted_requests_reconnect_and_the_download_equals_the_file(page, tmp_path):
    source = write_file(tmp_path / "train-ride.bin", SIZE)
    open_page(page)
    aborted = []
    page.route(UPLOADS, lambda route: (aborted.append(route.request.method), route.abort("connectionreset")))
    send(page, source)  # created; then every PATCH and HEAD fails until the route goes
    expect(page.locator("[data-upload='notice']")).to_contain_text("Reconnecting", timeout=30_000)
    assert "PATCH" in aborted
    page.unroute(UPLOADS)
    expect(page.locator("#token-out")).to_be_visible(timeout=120_000)
    assert page.evaluate(STORED) == []  # the URL and secret are forgotten once the upload is done
    assert sha256_file(download(page, tmp_path)) == sha256_file(source)


def test_the_same_file_in_a_new_tab_resumes_where_it_stopped(page, context, tmp_path):
    source = write_file(tmp_path / "closed-tab.bin", SIZE, seed=b"closed tab")
    open_page(page)
    throttle(page)  # the upload is still going when the tab closes
    send(page, source)
    wait_for_progress(page, 40)
    assert len(page.evaluate(STORED)) == 1
    page.close()

    again = context.new_page()
    offsets = []
    again.on("request", lambda request: offsets.append(request.headers.get("upload-offset"))
             if request.method == "PATCH" else None)
    open_page(again)
    send(again, source)
    expect(again.locator("#token-out")).to_be_visible(timeout=120_000)
    # what the closed tab sent whole did not go up again (no PATCH at all when the server had it all)
    assert all(int(offset) >= MIB for offset in offsets)
    assert again.evaluate(STORED) == []
    assert sha256_file(download(again, tmp_path)) == sha256_file(source)


def test_cancel_sends_delete_and_forgets_the_upload(page, tmp_path):
    source = write_file(tmp_path / "cancelled.bin", SIZE, seed=b"cancel")
    open_page(page)
    throttle(page)  # the upload is still going when Cancel is pressed
    send(page, source)
    wait_for_progress(page, 10)
    with page.expect_response(lambda r: r.request.method == "DELETE", timeout=30_000) as deleted:
        page.get_by_role("button", name="Cancel upload").click()
    assert deleted.value.status == 204
    expect(page.locator("[data-upload='notice']")).to_contain_text("cancelled")
    assert page.evaluate(STORED) == []
