"""Shared steps for the user journeys: upload (UI, drop or HTTP), files on disk, hashes, header checks,
a throttled network and the upload's progress."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import quote

import requests
from playwright.sync_api import Page, expect

CHUNK = 1024 * 1024
PROGRESS = "() => document.querySelector(\"[data-upload='progress'] progress\").value"  # the total


def write_file(path: Path, size: int, seed: bytes = b"anon-hosting") -> Path:
    """Deterministic pseudo-random bytes, written in 1 MiB chunks (never all in memory)."""
    block = hashlib.shake_256(seed).digest(CHUNK)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            piece = block[: min(left, CHUNK)]
            out.write(piece)
            left -= len(piece)
            block = block[1:] + block[:1]  # vary chunks so no two are alike
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
COMMON_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def upload_via_http(
    base_url: str,
    data: bytes,
    name: str,
    expires_in: int | None = None,
    *,
    max_downloads: int | None = None,
    passphrase: str | None = None,
) -> dict:
    """Upload with the raw-body form of POST /api/files, as the page does."""
    params = {} if expires_in is None else {"expires_in": str(expires_in)}
    if max_downloads is not None:
        params["max_downloads"] = str(max_downloads)
    headers = {"Content-Type": "application/octet-stream", "X-File-Name": quote(name, safe="")}
    if passphrase is not None:
        headers["X-Passphrase"] = quote(passphrase, safe="")
    response = requests.post(f"{base_url}/api/files", params=params, data=data, headers=headers, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


def assert_security_headers(response, csp: str = CSP) -> None:
    """Every security header exactly once (urllib3 keeps repeated headers apart)."""
    headers = response.raw.headers
    for name, value in {**COMMON_HEADERS, "Content-Security-Policy": csp}.items():
        assert headers.getlist(name) == [value], (response.url, name, headers.getlist(name))
    assert len(headers.getlist("Permissions-Policy")) == 1
    assert "camera=()" in response.headers["Permissions-Policy"]
    if response.headers.get("Server", "").startswith("nginx"):
        assert response.headers["Server"] == "nginx", "server_tokens off: no version"


def open_page(page: Page) -> None:
    """Open the start page and wait until the server's limits are shown."""
    page.goto("/")
    expect(page.locator("[data-upload='limits']")).to_contain_text("Up to")


def drop_file(page: Page, name: str, content: bytes, selector: str = "[data-dropzone='default']") -> None:
    """Simulate a drag-and-drop of one file onto `selector` (events bubble to the page)."""
    transfer = page.evaluate_handle(
        """([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
            return transfer;
        }""",
        [name, base64.b64encode(content).decode()],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def send_staged(page: Page) -> None:
    """Press Send on the staged file (a drop or a pick only stages it), in any language."""
    page.locator("[data-upload='send']").click()


def drop_and_send(page: Page, name: str, content: bytes, selector: str = "[data-dropzone='default']") -> None:
    """Drop one file, then press Send."""
    drop_file(page, name, content, selector)
    send_staged(page)


def check_token(page: Page, token: str) -> None:
    """Paste `token` in "Get a file back" and press Check token."""
    page.get_by_label("Token or share link").fill(token)
    page.get_by_role("button", name="Check token").click()


def upload_via_ui(page: Page, path: Path, *, downloads: str | None = None, passphrase: str | None = None) -> str:
    """Choose `path` in the upload card (with the given options), wait for the result, return the token.

    downloads: the visible label of a "Downloads allowed" choice, e.g. "3 downloads".
    """
    open_page(page)
    if downloads is not None:
        page.get_by_label("Downloads allowed").select_option(label=downloads)
    if passphrase is not None:
        page.get_by_label("Passphrase (optional)").fill(passphrase)
    page.locator("[data-upload='input']").set_input_files(path)
    send_staged(page)
    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible(timeout=60_000)
    return token_field.input_value()


def saved_download(download, folder: Path) -> Path:
    target = folder / download.suggested_filename
    download.save_as(target)
    return target


def file_size(path: Path) -> int:
    return os.stat(path).st_size


def throttle(page: Page) -> None:
    """Uploads at about 4 MB/s, so a 40 MiB one lasts about 10 s."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 4_000_000})


def wait_for_progress(page: Page, percent: int) -> None:
    """Until the upload's progress bar (the total, for a bundle) reaches ``percent``."""
    for _ in range(600):
        if page.evaluate(PROGRESS) >= percent:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"the upload never reached {percent} %")
