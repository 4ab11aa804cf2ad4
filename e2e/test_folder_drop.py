"""Journey: a real folder, with nested and empty subfolders and a non-ASCII name, dragged onto the page,
sent as one bundle, and taken back by the recipient as one zip with the same paths and bytes (an empty
folder holds no file, so it adds no entry).

Chromium makes the drop itself: DevTools' ``Input.dispatchDragEvent`` with paths in ``data.files`` goes
through the browser's own drop path, as a drag from a file manager does, so ``webkitGetAsEntry`` answers
a real directory entry and dropzone.js walks the folder on disk. A DataTransfer built in JS cannot hold one.
"""

import zipfile
from pathlib import Path

from playwright.sync_api import Page, expect

from helpers import open_page, send_staged

FILES = {
    "photos/2026/a.jpg": bytes(range(256)) * 160,
    "photos/b.txt": b"beach, then rain\n",
    "photos/été/Ünïcode 写真.txt": "déjà vu\n".encode(),
    "photos/2026/deep/er/c.bin": b"\x00" * 3 + b"end",
}
ZONE = "[data-dropzone='default']"
COPY = 1  # Input.DragData.dragOperationsMask: the drop offers a copy, as a file manager does


def make_folder(root: Path) -> Path:
    for path, data in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    (root / "photos" / "empty").mkdir()
    return root / "photos"


def drag_onto(page: Page, selector: str, *paths: Path) -> None:
    """Drag `paths` (files or folders on disk) from outside the browser and drop them on `selector`."""
    target = page.locator(selector)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    data = {"items": [], "files": [str(path) for path in paths], "dragOperationsMask": COPY}
    cdp = page.context.new_cdp_session(page)
    try:
        for kind in ("dragEnter", "dragOver", "drop"):
            cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    finally:
        cdp.detach()


def record_entry_kinds(page: Page) -> None:
    """Keep, in window.droppedKinds, what webkitGetAsEntry answers for each item of the next drop."""
    page.evaluate("""() => document.addEventListener('drop', (event) => {
        window.droppedKinds = Array.from(event.dataTransfer.items, (item) => {
            const entry = item.webkitGetAsEntry();
            return entry.isDirectory ? 'directory' : 'file';
        });
    }, { capture: true, once: true })""")


def dropped_kinds(page: Page) -> list[str]:
    page.wait_for_function("() => window.droppedKinds !== undefined")
    return page.evaluate("window.droppedKinds")


def test_a_dragged_folder_is_walked_sent_and_zipped_with_its_paths(page, tmp_path):
    folder = make_folder(tmp_path / "disk")
    open_page(page)
    record_entry_kinds(page)
    drag_onto(page, ZONE, folder)

    assert dropped_kinds(page) == ["directory"]
    staged = page.locator(".staged-file")
    expect(staged).to_have_count(len(FILES))
    assert sorted(staged.locator(".staged-path").all_inner_texts()) == sorted(FILES)
    expect(page.locator("[data-upload='staged-name']")).to_have_text(f"{len(FILES)} files")
    send_staged(page)
    expect(page.locator("#token-out")).to_be_visible()

    page.goto(page.locator("#share-link").input_value())
    listed = page.get_by_role("list", name="Files in this bundle").get_by_role("listitem")
    expect(listed).to_have_count(len(FILES))
    for path in FILES:
        expect(page.get_by_role("list", name="Files in this bundle")).to_contain_text(path)
    with page.expect_download() as zipped:
        page.get_by_role("button", name="Download all (.zip)").click()
    saved = tmp_path / "all.zip"
    zipped.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert {info.filename: archive.read(info) for info in archive.infolist()} == FILES
        assert all(info.flag_bits & 0x800 for info in archive.infolist())


def test_a_folder_and_a_file_dropped_together_are_one_bundle(page, tmp_path):
    folder = make_folder(tmp_path / "disk")
    loose = tmp_path / "disk" / "loose.txt"
    loose.write_bytes(b"not in the folder")
    open_page(page)
    record_entry_kinds(page)
    drag_onto(page, ZONE, folder, loose)

    assert dropped_kinds(page) == ["directory", "file"]
    paths = page.locator(".staged-file .staged-path")
    expect(paths).to_have_count(len(FILES) + 1)
    assert sorted(paths.all_inner_texts()) == sorted([*FILES, "loose.txt"])
