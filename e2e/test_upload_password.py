"""A server with its own name and an UPLOAD_PASSWORD: the page shows the name,
asks for the password, says plainly when it is wrong, and keeps the right one
for the rest of the browser tab's life (sessionStorage), never a wrong one."""

import secrets

import pytest
from playwright.sync_api import expect

from helpers import drop_and_send
from stack import Stack

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def locked_stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("locked")
    env = {
        "ANON_HOSTING_ENV_FILE": "/dev/null",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "UPLOAD_PASSWORD": PASSWORD,
        "WEBSITE_NAME": "Team Drop",
    }
    with Stack(storage_dir=root / "f", private_dir=root / "p", workdir=root / "w", env=env) as running:
        yield running


def test_upload_password(page, locked_stack):
    page.goto(f"{locked_stack.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Drop")
    expect(page).to_have_title("Team Drop")
    field = page.get_by_label("Upload password")
    expect(field).to_be_visible()
    notice = page.locator("[data-upload='notice']")

    drop_and_send(page, "a.txt", b"locked")
    expect(notice).to_have_text("This server asks for an upload password. Enter it, then press Send.")
    expect(field).to_be_focused()

    field.fill("wrong")
    drop_and_send(page, "a.txt", b"locked")
    expect(notice).to_have_text("That upload password is not right. Check it and try again.")
    expect(field).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0

    field.fill(PASSWORD)
    drop_and_send(page, "a.txt", b"locked")
    expect(page.locator("#token-out")).to_be_visible()

    # Kept for this tab: a reload (or the next visit in the same tab) needs no typing.
    page.reload()
    expect(page.get_by_label("Upload password")).to_have_value(PASSWORD)
    drop_and_send(page, "b.txt", b"again")
    expect(page.locator("[data-result='name']")).to_have_text("b.txt")


def test_a_password_a_header_cannot_carry_is_refused_plainly(page, locked_stack):
    uploads = []
    page.on("request", lambda r: uploads.append(r) if "/api/files" in r.url else None)
    page.goto(f"{locked_stack.url}/")
    page.get_by_label("Upload password").fill("пароль")
    drop_and_send(page, "a.txt", b"locked")
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "That upload password has a character a browser cannot send (“п”). Check it and try again."
    )
    expect(page.get_by_label("Upload password")).to_be_focused()
    assert uploads == []
