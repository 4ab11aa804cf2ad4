"""Journey 10: the page at 360 px (a small phone) and 1280 px (a laptop), light and dark.

Screenshots go to e2e/artifacts/: the start page, the result of an upload
with a download limit and a passphrase, the same result after "Delete now"
was asked, the file info of a share link, and the passphrase prompt. The
README's pictures come from scripts/screenshots.py.
"""


import pytest
from playwright.sync_api import expect

from helpers import drop_and_send, open_page, upload_via_http

SAMPLE_NAME = "quarterly-report-2026.pdf"
SAMPLE = b"%PDF-1.7\n" + b"Anon Hosting sample document.\n" * 4000


def no_horizontal_overflow(page):
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def snap(page, artifacts, name):
    assert no_horizontal_overflow(page), name
    page.screenshot(path=artifacts / f"{name}.png", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [360, 1280])
def test_layout_fits_and_looks_finished(page, base_url, artifacts, width, scheme):
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": width, "height": 800 if width == 360 else 900})
    suffix = f"{width}" if scheme == "light" else f"{width}-dark"
    open_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Anon Hosting")
    assert page.title() == "Anon Hosting"
    snap(page, artifacts, f"start-{suffix}")

    page.get_by_label("Downloads allowed").select_option(label="3 downloads")
    page.get_by_label("Passphrase (optional)").fill("tell them by phone")
    drop_and_send(page, SAMPLE_NAME, SAMPLE, selector="main")
    expect(page.locator("#token-out")).to_be_visible()
    page.locator("[data-result='qr'] svg").wait_for()
    page.locator("[data-result='heading']").blur()  # no focus ring in the picture
    snap(page, artifacts, f"upload-{suffix}")

    page.get_by_role("button", name="Delete now").click()
    expect(page.get_by_role("button", name="Yes, delete")).to_be_visible()
    page.get_by_role("button", name="No, keep it").blur()
    page.locator("[data-result='owner']").screenshot(path=artifacts / f"confirm-{suffix}.png")

    stored = upload_via_http(base_url, SAMPLE, SAMPLE_NAME, max_downloads=10)
    page.goto("about:blank")  # a fresh load, as when someone opens the link
    page.goto(f"/#{stored['token']}")
    expect(page.locator("[data-retrieve='info']")).to_be_visible()
    page.locator("[data-retrieve='heading']").blur()
    snap(page, artifacts, f"retrieve-{suffix}")

    # No CSP violation, no missing file, no script error, not even a warning.
    assert console == [], console

    locked = upload_via_http(base_url, SAMPLE, SAMPLE_NAME, passphrase="tell them by phone")
    page.goto("about:blank")
    page.goto(f"/#{locked['token']}")
    expect(page.get_by_label("Passphrase", exact=True)).to_be_focused()
    snap(page, artifacts, f"unlock-{suffix}")
    # Chromium logs every non-2xx fetch; the 401 passphrase_required is the page's cue.
    assert all("status of 401" in line for line in console), console

