"""Journey 7: a 200 MB file uploads with visible progress and downloads byte-identically."""

from playwright.sync_api import expect

from helpers import open_page, sha256_file, write_file

SIZE = 200_000_000

# Record every value the progress bar and its percentage text take.
WATCH_PROGRESS = """() => {
    window.__progress = [];
    const root = document.querySelector("[data-upload='progress']");
    const bar = root.querySelector('progress');
    const percent = root.querySelector("[data-progress='percent']");
    new MutationObserver(() => {
        window.__progress.push({ value: bar.value, text: percent.textContent,
                                 visible: getComputedStyle(root).visibility === 'visible' });
    }).observe(root, { attributes: true, childList: true, subtree: true, characterData: true });
}"""


def test_200_mb_round_trip(page, tmp_path):
    source = write_file(tmp_path / "big-video.mp4", SIZE)
    expected = sha256_file(source)
    open_page(page)
    page.evaluate(WATCH_PROGRESS)
    stage_height = page.locator("[data-upload='stage']").bounding_box()["height"]

    page.locator("[data-upload='input']").set_input_files(source)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("button", name="Cancel upload")).to_be_visible()
    # The progress area takes the drop zone's place without moving anything.
    assert page.locator("[data-upload='stage']").bounding_box()["height"] == stage_height
    expect(page.locator("#token-out")).to_be_visible(timeout=180_000)

    seen = page.evaluate("window.__progress")
    values = {entry["value"] for entry in seen if entry["visible"]}
    texts = {entry["text"] for entry in seen if entry["visible"]}
    assert any(0 < value < 100 for value in values), values
    assert len(values) >= 3, values
    assert "100%" in texts and any(t.endswith("%") and t not in ("0%", "100%") for t in texts), texts
    expect(page.locator("[data-result='size']")).to_contain_text("200,000,000 bytes")
    token = page.locator("#token-out").input_value()

    page.get_by_label("Token or share link").fill(token)
    page.get_by_role("button", name="Check token").click()
    expect(page.locator("[data-retrieve='size']")).to_have_attribute("data-bytes", str(SIZE))
    with page.expect_download(timeout=180_000) as download_info:
        page.get_by_role("button", name="Download", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == "big-video.mp4"
    saved = tmp_path / "downloaded.mp4"
    download.save_as(saved)
    assert saved.stat().st_size == SIZE
    assert sha256_file(saved) == expected
