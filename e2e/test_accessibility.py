"""axe-core on every view: sender, staged file, result, My uploads, recipient, text reveal, passphrase
prompt, the bundle views, and error states (bad token, file too large, empty text, wrong passphrase, no server settings,
and each error code the API answers, as the recipient's view and the sender's form show it),
in light and dark mode at 360 and 1280 px: 0 violations at WCAG 2.2 AA.

axe-core comes from frontend/node_modules (a devDependency pinned in package-lock.json, installed by
`make setup`) and is evaluated through the DevTools protocol, which the page's CSP does not govern;
the page itself is served and run exactly as in production.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from conftest import MAX_UPLOAD_BYTES, REPO
from helpers import check_token, drop_file, open_page, upload_via_http

AXE = REPO / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
RUN = """async (tags) => {
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}"""


def audit(page: Page, view: str) -> list[str]:
    assert AXE.is_file(), "axe-core is missing from frontend/node_modules: run make setup"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    page.evaluate("document.activeElement?.blur()")
    return [f"{view}: {violation}" for violation in page.evaluate(RUN, TAGS)]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_every_view_has_no_wcag_violation(page, new_context, base_url, scheme, width, tmp_path):
    found: list[str] = []
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    open_page(page)
    found += audit(page, "sender")

    check_token(page, "not a token")
    expect(page.locator("[data-retrieve='notice']")).to_contain_text("not valid")
    found += audit(page, "retrieve error")

    big = tmp_path / "disk-image.iso"
    with open(big, "wb") as sparse:
        sparse.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: costs no disk
    page.locator("[data-upload='input']").set_input_files(big)
    expect(page.locator("[data-upload='notice']")).to_contain_text("so it was not sent")
    found += audit(page, "file too large")

    drop_file(page, "report.pdf", b"%PDF-1.7 report")
    expect(page.locator("[data-upload='staged-name']")).to_have_text("report.pdf")
    found += audit(page, "staged")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#token-out")).to_be_visible()
    page.get_by_label("Keep this upload in this browser").check()
    page.locator("[data-result='qr'] svg").wait_for()
    found += audit(page, "result")

    page.get_by_role("button", name="Delete now").click()
    found += audit(page, "delete confirm")
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("[data-result='deleted']")).to_be_visible()
    found += audit(page, "deleted")

    page.get_by_role("button", name="Send another file").click()
    page.get_by_role("tab", name="Text").click()
    page.get_by_role("button", name="Send text").click()
    expect(page.locator("[data-upload='notice']")).to_have_text("Type or paste the text first.")
    found += audit(page, "text tab, error")

    page.get_by_label("Text to share").fill("the wifi password is 8 words long")
    page.get_by_role("button", name="Send text").click()
    expect(page.locator("#token-out")).to_be_visible()
    link = page.locator("#share-link").input_value()
    page.reload()
    page.locator("[data-part='mine'] summary").click()
    expect(page.locator(".mine-item").first).to_contain_text("1 download left")
    found += audit(page, "my uploads")

    reader = new_context().new_page()
    reader.set_viewport_size({"width": width, "height": 900})
    reader.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    reader.goto(link)
    reader.get_by_role("button", name="Reveal").wait_for()
    found += audit(reader, "recipient, text")
    reader.get_by_role("button", name="Reveal").click()
    expect(reader.get_by_label("The text")).to_be_visible()
    found += audit(reader, "text revealed")

    locked = upload_via_http(base_url, b"locked", "locked.bin", passphrase="open sesame")
    reader.goto(f"/#{locked['token']}")
    reader.reload()
    expect(reader.get_by_label("Passphrase", exact=True)).to_be_visible()
    found += audit(reader, "passphrase prompt")
    reader.get_by_label("Passphrase", exact=True).fill("wrong")
    reader.get_by_role("button", name="Unlock").click()
    expect(reader.locator("[data-retrieve='notice']")).to_contain_text("not right")
    found += audit(reader, "wrong passphrase")
    reader.get_by_label("Passphrase", exact=True).fill("open sesame")
    reader.get_by_role("button", name="Unlock").click()
    expect(reader.get_by_role("button", name="Download", exact=True)).to_be_visible()
    found += audit(reader, "recipient, file")

    offline = new_context().new_page()
    offline.set_viewport_size({"width": width, "height": 900})
    offline.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    offline.route("**/api/config", lambda route: route.abort())
    offline.goto("/")
    expect(offline.locator("[data-upload='notice']")).to_contain_text("uploads are off")
    found += audit(offline, "no server settings")

    assert found == []


# Each error the API can answer, as the recipient view and the sender's form show it.
ANSWERS = {
    "not_found": 404, "expired": 410, "download_limit_reached": 410, "download_in_progress": 409,
    "rate_limited": 429, "storage_unavailable": 503, "internal_error": 500, "insufficient_storage": 507,
}


def answer_with(code: str):
    def handle(route):
        if route.request.method != "POST":
            return route.continue_()
        if code == "network":
            return route.abort()
        body = f'{{"error": {{"code": "{code}", "message": "{code}"}}}}'
        return route.fulfill(status=ANSWERS[code], content_type="application/json", body=body,
                             headers={"Retry-After": "30"})
    return handle


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_every_error_state_has_no_wcag_violation(page, new_context, base_url, scheme, width):
    """The share link's view and the sender's form, once for each error code the API answers."""
    found: list[str] = []
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    token = upload_via_http(base_url, b"still here", "here.txt")["token"]
    for code in [*ANSWERS, "network"]:
        page.unroute("**/api/files/info")
        page.route("**/api/files/info", answer_with(code))
        page.goto("about:blank")
        page.goto(f"/#{token}")
        expect(page.locator("[data-retrieve='notice']")).not_to_be_empty()
        found += audit(page, f"recipient, {code}")
    page = new_context().new_page()  # the sender's page: the share link's tab stays in the recipient's view
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    for code in ["rate_limited", "storage_unavailable", "insufficient_storage", "internal_error", "network"]:
        page.unroute("**/api/files*")
        page.route("**/api/files*", answer_with(code))
        open_page(page)
        drop_file(page, "report.pdf", b"%PDF-1.7 report")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("[data-upload='notice']")).not_to_be_empty()
        found += audit(page, f"upload, {code}")
    assert found == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_the_bundle_views_have_no_wcag_violation(page, new_context, scheme, width):
    """Several files staged (each with its progress bar and Remove), their result, and the recipient's list."""
    found: list[str] = []
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    open_page(page)
    files = {"notes.txt": b"notes\n", "photos/a.jpg": b"\xff\xd8 not really a jpeg", "c.bin": bytes(256)}
    page.locator("[data-upload='input']").set_input_files(
        [{"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in files.items()])
    expect(page.locator(".staged-file")).to_have_count(3)
    found += audit(page, "bundle staged")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#token-out")).to_be_visible()
    page.locator("[data-result='qr'] svg").wait_for()
    found += audit(page, "bundle result")
    link = page.locator("#share-link").input_value()

    reader = new_context().new_page()
    reader.set_viewport_size({"width": width, "height": 900})
    reader.emulate_media(color_scheme=scheme, reduced_motion="reduce")
    reader.goto(link)
    expect(reader.get_by_role("button", name="Download all (.zip)")).to_be_visible()
    found += audit(reader, "recipient, bundle")
    assert found == []
