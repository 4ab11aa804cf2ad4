"""Rough edges found in a read of the page's code, each pinned by a test that failed before its fix."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from playwright.sync_api import expect

from helpers import drop_and_send, drop_file, open_page, send_staged, upload_via_http

REPO = Path(__file__).resolve().parent.parent
UPLOAD = re.compile(r"/api/files(\?.*)?$")


def info_requests(page) -> list:
    seen: list = []
    page.on("request", lambda r: seen.append(r) if r.url.endswith("/api/files/info") else None)
    return seen


def test_the_skip_link_is_not_taken_as_a_token(page):
    asked = info_requests(page)
    open_page(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to “Get a file back”")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#get-title")).to_be_focused()
    expect(page.locator("[data-retrieve='notice']")).to_have_text("")
    page.get_by_label("Token or share link").fill("x")  # a later event, so a lookup would have run by now
    assert asked == []


def test_cancel_while_the_server_finishes_does_not_promise_nothing_was_stored(page):
    open_page(page)
    # Every byte is sent at once; the answer is held back a long time (a server still saving).
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 60_000, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    drop_and_send(page, "late.txt", b"all of it was sent")
    expect(page.locator("[data-progress='speed']")).to_have_text("Encrypting and saving…")
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "Upload cancelled after the whole file was sent. The server may have stored it, but nobody has its "
        "tokens, so nobody can open it; it is deleted when it expires."
    )


def test_a_stalled_upload_says_so_after_ten_seconds(page):
    page.clock.install()
    open_page(page)
    page.evaluate(
        """async () => {
            const { Progress } = await import('/js/progress.js');
            window.bar = Progress(document.querySelector('[data-upload="progress"]'));
            window.bar.start({ name: 'slow.bin', size: 10000000 });
            window.bar.update(4000000, 10000000);
        }"""
    )
    speed = page.locator("[data-progress='speed']")
    page.clock.run_for(11_000)
    expect(speed).to_have_text("Stalled: no progress for 10 seconds")
    page.evaluate("window.bar.update(5000000, 10000000)")
    expect(speed).not_to_contain_text("Stalled")
    page.evaluate("window.bar.stop()")


def test_a_bad_request_shows_the_server_reason(page):
    open_page(page)
    page.evaluate("document.querySelector('#max-downloads option[value=\"10\"]').value = '5000'")
    page.get_by_label("Downloads allowed").select_option("5000")
    drop_and_send(page, "many.txt", b"x")
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "The server refused this request: max_downloads can be at most 1000."
    )


def test_the_passphrase_is_held_to_the_server_limit(page):
    uploads = []
    page.on("request", lambda r: uploads.append(r) if UPLOAD.search(r.url) else None)
    open_page(page)
    field = page.get_by_label("Passphrase (optional)")
    expect(field).to_have_attribute("maxlength", "1024")
    field.fill("é" * 600)
    drop_and_send(page, "secret.txt", b"x")
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "This passphrase is 1,200 bytes long; the server takes up to 1,024. "
        "Letters with accents take two bytes or more."
    )
    assert uploads == []


def test_expiry_choices_reach_a_server_maximum_over_30_days(page):
    open_page(page)
    choices = page.evaluate(
        """() => import('/js/expiry.js').then((m) =>
            m.expiryChoices({ default_expires_in: 604800, max_expires_in: 7776000 }).map((c) => c.label))"""
    )
    assert choices == ["1 hour", "1 day", "7 days", "30 days", "90 days"]


def test_a_file_dropped_before_the_config_answers_waits_for_it(page):
    held = []
    page.route("**/api/config", lambda route: held.append(route))
    page.goto("/")
    expect(page.locator("[data-language] option")).to_have_count(4)
    drop_file(page, "early.txt", b"too early")
    expect(page.locator("[data-upload='notice']")).to_have_text("Waiting for this server’s settings…")
    assert len(held) == 1
    held[0].continue_()
    send_staged(page)
    expect(page.locator("[data-result='name']")).to_have_text("early.txt")


def test_an_ordinary_file_dropped_on_get_a_file_back_is_not_sent_as_a_token(page):
    asked = info_requests(page)
    open_page(page)
    drop_file(page, "notes.txt", b"hello world, see you soon\n", selector="[data-part='retrieve']")
    expect(page.locator("[data-retrieve='notice']")).to_have_text(
        "This does not look like a .jwe token file. Choose the .jwe file you were given."
    )
    assert asked == []


def test_downloads_left_keeps_following_other_downloads(page, base_url):
    token = upload_via_http(base_url, b"shared", "shared.txt", max_downloads=5)["token"]
    page.clock.install()
    open_page(page)
    page.get_by_label("Token or share link").fill(token)
    page.get_by_role("button", name="Check token").click()
    left = page.locator("[data-retrieve='downloads']")
    expect(left).to_have_text("5")
    for expected in ("4", "3", "2"):
        answer = requests.post(f"{base_url}/api/files/retrieve", json={"token": token}, timeout=30)
        assert answer.status_code == 200
        page.clock.run_for(30_000)
        expect(left).to_have_text(expected)


def test_a_reload_keeps_the_share_link_token_for_the_tab_only(page, base_url):
    token = upload_via_http(base_url, b"kept", "kept.txt")["token"]
    page.goto(f"/#{token}")
    expect(page.locator("[data-retrieve='name']")).to_have_text("kept.txt")
    assert "#" not in page.url
    page.reload()
    expect(page.locator("[data-retrieve='name']")).to_have_text("kept.txt")
    assert token not in page.url
    page.get_by_role("link", name="Send a file of your own").click()
    expect(page.locator("[data-upload='limits']")).to_contain_text("Up to")
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


CONTRAST = """(selector) => {
    const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const el = document.querySelector(selector);
    const style = getComputedStyle(el);
    const border = rgb(style.borderTopColor);
    let behind = el.parentElement;
    while (getComputedStyle(behind).backgroundColor === 'rgba(0, 0, 0, 0)') behind = behind.parentElement;
    const around = rgb(getComputedStyle(behind).backgroundColor);
    return Math.min(ratio(border, rgb(style.backgroundColor)), ratio(border, around));
}"""


def test_control_borders_have_3_to_1_contrast(page):
    open_page(page)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # no colour transition mid-read
        for selector in ("#expiry", "#passphrase", "#token-in", ".dropzone"):
            assert page.evaluate(CONTRAST, selector) >= 3, (scheme, selector)


def test_paths_cited_in_the_frontend_exist():
    cited = set()
    for path in [*(REPO / "frontend" / "js").glob("*.js"), REPO / "frontend" / "README.md"]:
        cited.update(re.findall(r"\b((?:docs|backend|nginx|scripts|e2e)/[\w./-]+\.\w+)", path.read_text()))
    assert cited, "the check reads the files"
    assert [name for name in sorted(cited) if not (REPO / name).exists()] == []
