"""Journey: a short secret. Typed into the Text tab, stored as secret.txt (one download, 1 day by
default), revealed in the recipient's page as text (never HTML) with a copy button. Ctrl+V of a
file anywhere stages it."""

from playwright.sync_api import expect

from helpers import open_page

SECRET = 'hunter2 <img src=x onerror="alert(1)"> <b>bold</b>\nsecond line'


def test_text_tab_then_reveal(page, new_context, clipboard):
    open_page(page)
    page.get_by_role("tab", name="Text").click()
    expect(page.get_by_role("tab", name="Text")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Downloads allowed")).to_have_value("1")
    expect(page.get_by_label("Delete it after")).to_have_value("86400")
    page.get_by_label("Text to share").fill(SECRET)
    page.get_by_role("button", name="Send text").click()
    expect(page.locator("[data-result='name']")).to_have_text("secret.txt")
    expect(page.locator("[data-result='downloads']")).to_have_text("1 (burn after reading)")
    expect(page.locator("[data-result='expires']")).to_contain_text("Tomorrow")
    link = page.locator("#share-link").input_value()

    reader = new_context().new_page()
    reader.goto(link)
    expect(reader.get_by_role("heading", name="Ready to reveal")).to_be_visible()
    expect(reader.get_by_role("button", name="Download", exact=True)).to_have_count(0)
    reader.get_by_role("button", name="Reveal").click()
    shown = reader.get_by_label("The text")
    expect(shown).to_have_value(SECRET)
    assert reader.locator("img, b").count() == 0
    expect(reader.get_by_role("button", name="Reveal")).to_be_hidden()
    expect(reader.locator("[data-retrieve='downloads']")).to_have_text("0")

    late = new_context().new_page()
    late.goto(link)
    expect(late.locator("[data-retrieve='notice']")).to_contain_text("already downloaded")


def test_the_file_tab_options_come_back(page):
    open_page(page)
    page.get_by_label("Downloads allowed").select_option(label="10 downloads")
    page.get_by_role("tab", name="File").press("ArrowRight")
    expect(page.get_by_role("tab", name="Text")).to_be_focused()
    expect(page.get_by_label("Downloads allowed")).to_have_value("1")
    page.get_by_role("tab", name="Text").press("ArrowLeft")
    expect(page.get_by_role("tab", name="File")).to_be_focused()
    expect(page.get_by_label("Downloads allowed")).to_have_value("10")


def test_pasting_a_file_anywhere_stages_it(page):
    open_page(page)
    page.get_by_role("tab", name="Text").click()
    page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'image.png', { type: 'image/png' }));
            document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true }));
        }"""
    )
    expect(page.get_by_role("tab", name="File")).to_have_attribute("aria-selected", "true")
    expect(page.locator("[data-upload='staged-name']")).to_have_text("image.png")


def test_too_long_a_text_is_refused(page):
    open_page(page)
    page.get_by_role("tab", name="Text").click()
    page.get_by_label("Text to share").fill("a" * (64 * 1024 + 1))
    page.get_by_role("button", name="Send text").click()
    expect(page.locator("[data-upload='notice']")).to_have_text(
        "This text is 65,537 bytes; a text can be up to 64 KiB. Send it as a file instead."
    )


def test_pasting_text_with_the_text_tab_open_fills_it(page):
    open_page(page)
    page.get_by_role("tab", name="Text").click()
    page.get_by_role("tab", name="Text").focus()
    page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            transfer.setData('text/plain', 'ssh-ed25519 AAAAC3Nz example');
            const paste = new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true });
            document.activeElement.dispatchEvent(paste);
        }"""
    )
    expect(page.get_by_label("Text to share")).to_have_value("ssh-ed25519 AAAAC3Nz example")
    expect(page.get_by_label("Text to share")).to_be_focused()
