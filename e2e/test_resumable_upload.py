"""Journey: a resumable upload (tus) survives a dropped network, a closed tab and a cancel.

page.route lets the first PATCH through with only the first COMMITTED bytes and a little more, as when a
connection drops mid-file: the server keeps the whole chunks, and a HEAD from the test reads that offset.
Every later PATCH and HEAD is aborted and the page shows "Reconnecting…" while tus-js-client retries; once
they go through again the page goes on from that offset, not from 0, and the download equals the dropped
file. A tab closed in the middle of the PATCH leaves the server with whole chunks, and the same file dropped
in a new tab of the same browser resumes from that offset; the page forgets the upload's URL and secret once
it is done. Cancel sends DELETE.
"""

import json
import re
from urllib.parse import urljoin

import requests
from playwright.sync_api import expect

from helpers import check_token, open_page, saved_download, sha256_file, throttle, wait_for_progress, write_file

MIB = 1 << 20
SIZE = 40 * MIB + 321  # over 8 MiB: a creation, then one PATCH with the whole file
COMMITTED = 5 * MIB  # the whole chunks the first PATCH brings before its connection "drops"
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


def test_requests_aborted_mid_file_reconnect_and_resume_from_the_committed_offset(page, tmp_path):
    source = write_file(tmp_path / "train-ride.bin", SIZE)
    with open(source, "rb") as f:
        head = f.read(COMMITTED + 1000)
    open_page(page)
    aborted = []

    def drop_mid_file(route):
        if route.request.method == "PATCH" and not aborted and route.request.headers["upload-offset"] == "0":
            route.continue_(post_data=head)  # the first PATCH, cut 1000 bytes into its sixth chunk
            return
        aborted.append(route.request.method)
        route.abort("connectionreset")

    page.route(UPLOADS, drop_mid_file)
    send(page, source)
    expect(page.locator("[data-upload='notice']")).to_contain_text("Reconnecting", timeout=30_000)
    wait_for(page, lambda: "HEAD" in aborted)  # tus-js-client asks for the offset again, and fails
    assert aborted[0] == "PATCH", aborted
    [key] = page.evaluate(STORED)
    entry = json.loads(page.evaluate("(key) => localStorage.getItem(key)", key))
    entry["url"] = urljoin(page.url, entry["url"])
    assert server_offset(entry) == COMMITTED  # strictly inside the file: 0 < COMMITTED < SIZE

    resumed = []
    page.on("request", lambda request: resumed.append(int(request.headers["upload-offset"]))
            if request.method == "PATCH" else None)
    page.unroute(UPLOADS)
    expect(page.locator("#token-out")).to_be_visible(timeout=120_000)
    assert resumed == [COMMITTED]  # one PATCH, with the rest of the file from the committed offset
    assert server_offset(entry) == SIZE
    assert page.evaluate(STORED) == []  # the URL and secret are forgotten once the upload is done
    assert sha256_file(download(page, tmp_path)) == sha256_file(source)


def wait_for(page, condition, tries: int = 600) -> None:
    for _ in range(tries):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the condition never held")


def server_offset(entry: dict) -> int:
    """The offset the server holds for the page's upload, asked with the page's own URL and secret."""
    answer = requests.head(entry["url"], timeout=30,
                           headers={"Tus-Resumable": "1.0.0", "Upload-Secret": entry["secret"]})
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["Upload-Offset"])


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
