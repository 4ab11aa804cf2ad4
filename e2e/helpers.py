"""Shared steps for the user journeys: upload (UI, drop or HTTP), files on disk, hashes."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from urllib.parse import quote

import requests
from playwright.sync_api import Page, expect

CHUNK = 1024 * 1024


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


def upload_via_http(base_url: str, data: bytes, name: str, expires_in: int | None = None) -> dict:
    """Upload with the raw-body form of POST /api/files, as the page does."""
    params = {} if expires_in is None else {"expires_in": str(expires_in)}
    response = requests.post(
        f"{base_url}/api/files",
        params=params,
        data=data,
        headers={"Content-Type": "application/octet-stream", "X-File-Name": quote(name, safe="")},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


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


def upload_via_ui(page: Page, path: Path) -> str:
    """Choose `path` in the upload card, wait for the result, return the token."""
    open_page(page)
    page.locator("[data-upload='input']").set_input_files(path)
    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible(timeout=60_000)
    return token_field.input_value()


def saved_download(download, folder: Path) -> Path:
    target = folder / download.suggested_filename
    download.save_as(target)
    return target


def file_size(path: Path) -> int:
    return os.stat(path).st_size
