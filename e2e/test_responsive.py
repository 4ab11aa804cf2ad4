"""Journey 10: the page at 360 px (a small phone) and 1280 px (a laptop).

Screenshots go to e2e/artifacts/. With UPDATE_SCREENSHOTS=1 the upload and
retrieve pictures are also copied to docs/screenshots/ for the README.
"""

import os
import shutil

import pytest
from playwright.sync_api import expect

from conftest import REPO
from helpers import drop_file, open_page, upload_via_http

SAMPLE_NAME = "quarterly-report-2026.pdf"
SAMPLE = b"%PDF-1.7\n" + b"Anon Hosting sample document.\n" * 4000


def no_horizontal_overflow(page):
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", [360, 1280])
def test_layout_fits_and_looks_finished(page, base_url, artifacts, width):
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.set_viewport_size({"width": width, "height": 800 if width == 360 else 900})
    open_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Anon Hosting")
    assert page.title() == "Anon Hosting"
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"start-{width}.png", full_page=True)

    drop_file(page, SAMPLE_NAME, SAMPLE, selector="main")
    expect(page.locator("#token-out")).to_be_visible()
    page.locator("[data-result='qr'] svg").wait_for()
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"upload-{width}.png", full_page=True)

    stored = upload_via_http(base_url, SAMPLE, SAMPLE_NAME)
    page.goto("about:blank")  # a fresh load, as when someone opens the link
    page.goto(f"/#{stored['token']}")
    expect(page.locator("[data-retrieve='info']")).to_be_visible()
    assert no_horizontal_overflow(page)
    page.screenshot(path=artifacts / f"retrieve-{width}.png", full_page=True)

    # No CSP violation, no missing file, no script error, not even a warning.
    assert console == [], console

    if os.environ.get("UPDATE_SCREENSHOTS") and width == 1280:
        docs = REPO / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "upload-1280.png", docs / "upload.png")
        shutil.copyfile(artifacts / "retrieve-1280.png", docs / "retrieve.png")
