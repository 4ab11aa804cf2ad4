"""Journey: several files, or a folder, go up as one bundle behind one token; the recipient sees
every file and takes one of them, or all of them as one zip, with native form-POST downloads.

The page sends a bundle over 8 MiB (tus-upload.js ONE_REQUEST_MAX) file by file, resumably (tus, POST
/api/uploads) as bundle members, which get no token, and then joins them (POST /api/bundles); a smaller one
goes as one multipart request (POST /api/files). Cancel stops the file in flight and drops the uploads of the
files already sent, so that nothing can join them.
"""

import io
import zipfile

import requests
from playwright.sync_api import expect

from helpers import open_page, send_staged, throttle, wait_for_progress, write_file

FILES = {"a.txt": b"first file\n", "b.txt": b"second file, removed before sending\n",
         "c.bin": bytes(range(256)) * (36 << 10)}  # 9 MiB: the bundle goes file by file through tus
SMALL = {"a.txt": b"first file\n", "c.bin": bytes(range(256)) * 40}


def payloads(files: dict) -> list[dict]:
    return [{"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in files.items()]


def stage_three(page) -> None:
    open_page(page)
    page.locator("[data-upload='input']").set_input_files(payloads(FILES))
    expect(page.locator("[data-upload='staged-name']")).to_have_text("3 files")
    expect(page.locator("[data-upload='staged-size']")).to_contain_text("in all, of the")
    expect(page.locator(".staged-file")).to_have_count(3)


def upload_posts(page) -> list[str]:
    """Each upload POST the page sends, in order: files (multipart), uploads (tus) or bundles (the join)."""
    posts = []
    page.on("request", lambda r: posts.append(r.url.rpartition("/api/")[2])
            if r.method == "POST" and r.url.rpartition("/api/")[2] in ("files", "uploads", "bundles") else None)
    return posts


def test_several_files_are_listed_trimmed_and_sent_as_one_bundle(page, tmp_path):
    posts = upload_posts(page)
    stage_three(page)
    for name, data in FILES.items():
        bar = page.get_by_label(f"Progress of {name}")
        expect(bar).to_have_attribute("max", str(len(data)))
    page.get_by_role("button", name="Remove b.txt").click()
    expect(page.locator(".staged-file")).to_have_count(2)
    expect(page.locator("[data-upload='staged-name']")).to_have_text("2 files")
    send_staged(page)
    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible()
    assert posts == ["uploads", "uploads", "bundles"]  # each file through tus, then the join
    assert len(token_field.input_value()) <= 360
    expect(page.locator("[data-result='name']")).to_have_text("a.txt and 1 more.zip")
    share_link = page.locator("#share-link").input_value()

    page.goto(share_link)
    files = page.get_by_role("list", name="Files in this bundle").get_by_role("listitem")
    expect(files).to_have_count(2)
    expect(files.nth(1)).to_contain_text("c.bin")
    with page.expect_download() as zipped:
        page.get_by_role("button", name="Download all (.zip)").click()
    assert zipped.value.suggested_filename == "a.txt and 1 more.zip"
    saved = tmp_path / "all.zip"
    zipped.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        assert {n: archive.read(n) for n in archive.namelist()} == {"a.txt": FILES["a.txt"], "c.bin": FILES["c.bin"]}
    for name in ("a.txt", "c.bin"):
        with page.expect_download() as one:
            page.get_by_role("button", name=f"Download {name}").click()
        assert one.value.suggested_filename == name
        one.value.save_as(tmp_path / name)
        assert (tmp_path / name).read_bytes() == FILES[name]


def test_a_small_bundle_goes_as_one_request(page, base_url):
    posts = upload_posts(page)
    open_page(page)
    page.locator("[data-upload='input']").set_input_files(payloads(SMALL))
    expect(page.locator("[data-upload='staged-name']")).to_have_text("2 files")
    send_staged(page)
    token_field = page.locator("#token-out")
    expect(token_field).to_be_visible()
    assert posts == ["files"]  # under 8 MiB in all: one multipart request, as a single small file is one
    zipped = requests.post(f"{base_url}/api/files/retrieve", json={"token": token_field.input_value()}, timeout=30)
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == SMALL


def test_a_folder_keeps_its_paths(page, tmp_path):
    folder = tmp_path / "holiday"
    (folder / "photos").mkdir(parents=True)
    (folder / "notes.txt").write_bytes(b"notes")
    (folder / "photos" / "beach.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    open_page(page)
    page.locator("[data-upload='folder-input']").set_input_files(folder)
    expect(page.locator(".staged-file")).to_have_count(2)
    expect(page.locator(".staged-list")).to_contain_text("holiday/photos/beach.jpg")
    send_staged(page)
    expect(page.locator("#token-out")).to_be_visible()
    page.goto(page.locator("#share-link").input_value())
    listed = page.get_by_role("list", name="Files in this bundle")
    expect(listed).to_contain_text("holiday/photos/beach.jpg")
    with page.expect_download() as zipped:
        page.get_by_role("button", name="Download all (.zip)").click()
    with zipfile.ZipFile(io.BytesIO(zipped.value.path().read_bytes())) as archive:
        assert sorted(archive.namelist()) == ["holiday/notes.txt", "holiday/photos/beach.jpg"]


def test_two_drops_add_up_and_removing_every_file_unstages(page):
    open_page(page)
    for name, data in list(FILES.items())[:2]:
        transfer = page.evaluate_handle(
            """([name, text]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([text], name));
                return transfer;
            }""", [name, data.decode()])
        for event in ("dragenter", "dragover", "drop"):
            page.dispatch_event("main", event, {"dataTransfer": transfer})
    expect(page.locator(".staged-file")).to_have_count(2)
    page.get_by_role("button", name="Remove a.txt").click()
    expect(page.locator(".staged-list")).to_be_hidden()
    expect(page.locator("[data-upload='staged-name']")).to_have_text("b.txt")
    page.get_by_role("button", name="Remove this file").click()
    expect(page.get_by_role("button", name="Choose a file")).to_be_focused()


def test_cancel_drops_the_files_sent_and_the_one_in_flight(page, tmp_path, base_url):
    big = write_file(tmp_path / "big.bin", 40 << 20, seed=b"bundle cancel")
    small = tmp_path / "small.txt"
    small.write_bytes(b"sent before Cancel")
    answers, deletes = [], []
    page.on("response", lambda r: answers.append(r) if r.request.method == "POST" and r.url.endswith("/api/uploads")
            else None)
    page.on("request", lambda r: deletes.append(r.url) if r.method == "DELETE" or r.url.endswith("/files/delete")
            else None)
    open_page(page)
    throttle(page)  # the big file is still going when Cancel is pressed
    page.locator("[data-upload='input']").set_input_files([small, big])
    page.get_by_role("button", name="Send", exact=True).click()
    wait_for_progress(page, 10)
    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("[data-upload='notice']")).to_contain_text("cancelled")
    small = next(a for a in answers if a.status == 201 and a.json().get("kind") == "member")
    assert "token" not in small.json()  # a bundle member's file opens through its bundle only
    small_upload = {"id": small.headers["location"].rpartition("/")[2],
                    "secret": small.request.headers["upload-secret"]}
    # the big file's upload and the small one's, with its file (DELETE): no file token exists to delete with
    for _ in range(100):
        if len(deletes) >= 2:
            break
        page.wait_for_timeout(100)
    assert not any(url.endswith("/api/files/delete") for url in deletes) and len(deletes) == 2, deletes
    gone = requests.get(f"{base_url}/api/uploads/{small_upload['id']}", timeout=30,
                        headers={"Tus-Resumable": "1.0.0", "Upload-Secret": small_upload["secret"]})
    assert gone.status_code == 404  # its record is gone, so no join can take the file, swept at its expiry
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('anon-hosting.resume.'))") == []


def test_a_bundle_resumes_in_a_new_tab_without_sending_a_finished_file_again(page, context, tmp_path, base_url):
    first = write_file(tmp_path / "first.bin", 10 << 20, seed=b"bundle tab 1")
    second = write_file(tmp_path / "second.bin", 30 << 20, seed=b"bundle tab 2")
    stored = "Object.keys(localStorage).filter((key) => key.startsWith('anon-hosting.resume.'))"
    open_page(page)
    throttle(page)  # the second file is still going when the tab closes
    page.locator("[data-upload='input']").set_input_files([first, second])
    page.get_by_role("button", name="Send", exact=True).click()
    wait_for_progress(page, 50)  # the first file (a quarter of the bundle) is whole on the server
    assert len(page.evaluate(stored)) == 2  # the finished file's entry stays until the join
    page.close()

    again = context.new_page()
    posts, offsets = upload_posts(again), []
    again.on("request", lambda r: offsets.append(int(r.headers["upload-offset"])) if r.method == "PATCH" else None)
    open_page(again)
    again.locator("[data-upload='input']").set_input_files([first, second])
    again.get_by_role("button", name="Send", exact=True).click()
    token_field = again.locator("#token-out")
    expect(token_field).to_be_visible(timeout=120_000)
    assert posts == ["bundles"]  # both files resumed their uploads: no creation, one join
    assert offsets and all(offset >= 1 << 20 for offset in offsets)  # the second went on where it stopped
    assert again.evaluate(stored) == []
    zipped = requests.post(f"{base_url}/api/files/retrieve", json={"token": token_field.input_value()}, timeout=60)
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert archive.read("first.bin") == first.read_bytes()
        assert archive.read("second.bin") == second.read_bytes()
