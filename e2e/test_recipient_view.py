"""Journey: a share link opens the recipient's view: what the file is, one Download button, and a
small link to the full page. The sender's form is not shown."""

from playwright.sync_api import expect

from helpers import sha256_file, upload_via_http


def test_a_share_link_opens_the_recipient_view(page, base_url, tmp_path):
    data = b"minutes of the meeting\n" * 40
    token = upload_via_http(base_url, data, "minutes.pdf", max_downloads=3)["token"]
    page.goto(f"/#{token}")

    expect(page.get_by_role("heading", name="A file for you")).to_be_visible()
    expect(page.locator("[data-retrieve='name']")).to_have_text("minutes.pdf")
    expect(page.locator("[data-retrieve='size']")).to_have_text("920 bytes")
    expect(page.locator("[data-retrieve='type']")).to_have_text("PDF file")
    expect(page.locator("[data-retrieve='expires']")).to_contain_text("In 7 days")
    expect(page.locator("[data-retrieve='downloads']")).to_have_text("3")
    for hidden in ("[data-part='upload']", ".how", "[data-retrieve='form']", "[data-retrieve='reset']"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.get_by_role("button")).to_have_count(1)
    expect(page.get_by_role("button", name="Download", exact=True)).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("button", name="Download", exact=True).click()
    saved = tmp_path / "minutes.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == data and sha256_file(saved)

    page.get_by_role("link", name="Send a file of your own").click()
    expect(page.get_by_role("heading", name="Send a file")).to_be_visible()
    expect(page.get_by_role("heading", name="Get a file back")).to_be_visible()
    expect(page.locator("[data-retrieve='info']")).to_be_hidden()


def test_a_pasted_token_keeps_the_full_page(page, base_url):
    token = upload_via_http(base_url, b"x", "x.txt")["token"]
    page.goto("/")
    page.get_by_label("Token or share link").fill(f"{base_url}/#{token}")
    page.get_by_role("button", name="Check token").click()
    expect(page.locator("[data-retrieve='name']")).to_have_text("x.txt")
    expect(page.locator("[data-part='upload']")).to_be_visible()
    expect(page.locator("[data-recipient-only]")).to_be_hidden()
