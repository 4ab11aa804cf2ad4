"""Regenerate the README's screenshots (docs/screenshots/*.png) from the real page.

Contract: ``.venv/bin/python scripts/screenshots.py`` starts the real stack
(nginx + gunicorn when nginx is installed) on free loopback ports with
throw-away storage, drives Debian's Chromium (CHROMIUM_PATH to override)
through each view in English and German at 1280 px, light mode, and writes
<view>-<lang>.png: upload (the result of an upload), recipient (a share link),
text (a revealed short secret) and mine (the My uploads panel). Nothing
outside docs/screenshots/ is written.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "e2e"))

from conftest import CHROMIUM_ARGS  # noqa: E402
from stack import NO_NGINX_LIMITS, Stack  # noqa: E402

OUT = REPO / "docs" / "screenshots"
LANGUAGES = {"en": "en-GB", "de": "de-DE"}
SAMPLE = b"%PDF-1.7\n" + b"Anon Hosting sample document.\n" * 4000
DROP = """([name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: 'application/pdf' }));
    return transfer;
}"""


def shoot(page: Page, name: str) -> None:
    page.evaluate("document.activeElement?.blur()")  # no focus ring in the picture
    page.screenshot(path=OUT / f"{name}.png", full_page=True)
    print(f"docs/screenshots/{name}.png")


def views(browser, url: str, lang: str, locale: str) -> None:
    context = browser.new_context(base_url=url, locale=locale, timezone_id="UTC",
                                  viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()
    page.goto("/")
    page.locator("[data-upload='limits']").filter(has_text="256").wait_for()
    transfer = page.evaluate_handle(DROP, ["quarterly-report-2026.pdf", base64.b64encode(SAMPLE).decode()])
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event("main", event, {"dataTransfer": transfer})
    page.locator("[data-upload='downloads']").select_option("3")
    page.locator("[data-upload='send']").click()
    page.locator("#token-out").wait_for()
    page.locator("[data-result='keep']").check()
    page.locator("[data-result='qr'] svg").wait_for()
    link = page.locator("#share-link").input_value()
    shoot(page, f"upload-{lang}")

    page.locator("[data-result='again']").click()
    page.locator("[data-tab='text']").click()
    page.locator("[data-upload='text']").fill("correct horse battery staple")
    page.locator("[data-upload='send-text']").click()
    page.locator("#token-out").wait_for()
    text_link = page.locator("#share-link").input_value()
    page.reload()
    page.locator("[data-part='mine'] summary").click()
    expect(page.locator(".mine-item")).to_have_count(2)
    expect(page.locator(".mine-item").first).to_contain_text("1")
    shoot(page, f"mine-{lang}")

    reader = context.browser.new_context(locale=locale, timezone_id="UTC", viewport={"width": 1280, "height": 720})
    for target, name in ((link, "recipient"), (text_link, "text")):
        view = reader.new_page()
        view.goto(target)
        view.locator("[data-retrieve='download']").wait_for()
        if name == "text":
            view.locator("[data-retrieve='download']").click()
            view.locator("[data-retrieve='secret']").wait_for()
        shoot(view, f"{name}-{lang}")
    reader.close()
    context.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="anon-screens-"))
    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
           "WEBSITE_NAME": "Anon Hosting", "MAX_UPLOAD_BYTES": str(256 * 1024 * 1024),
           "DEFAULT_EXPIRES_IN": "604800", "MAX_EXPIRES_IN": "2592000", "CORS_ORIGINS": ""}
    with Stack(storage_dir=root / "files", private_dir=root / "private", workdir=root / "work", env=env,
               nginx_limits=NO_NGINX_LIMITS) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS)
        for lang, locale in LANGUAGES.items():
            views(browser, stack.url, lang, locale)
        browser.close()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
