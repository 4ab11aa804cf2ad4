"""Journey: the page speaks the visitor's language, and the one they choose.

The language comes from navigator.languages, or from the switcher, which is
remembered; <html lang>, dates, sizes and plurals follow the page's language,
not the browser's.
"""

import pytest
from playwright.sync_api import expect

from helpers import drop_and_send, open_page


@pytest.fixture
def german(browser, base_url):
    context = browser.new_context(base_url=base_url, locale="de-DE", timezone_id="UTC")
    yield context.new_page()
    context.close()


def upload_small(page, name="notiz.txt"):
    drop_and_send(page, name, b"hallo\n")
    expect(page.locator("#token-out")).to_be_visible()


def test_a_german_browser_gets_the_german_page(german):
    german.goto("/")
    expect(german.locator("html")).to_have_attribute("lang", "de")
    expect(german.get_by_role("heading", name="Datei senden")).to_be_visible()
    expect(german.locator("[data-upload='limits']")).to_have_text(
        "Bis zu 256 MiB pro Datei. Höchstens 30 Tage aufbewahrt."
    )
    expect(german.get_by_label("Löschen nach")).to_contain_text("7 Tage")
    upload_small(german)
    expect(german.locator("[data-result='size']")).to_have_text("6 Bytes")
    expect(german.locator("[data-result='expires']")).to_contain_text("In 7 Tagen")
    expect(german.locator("[data-upload='notice']")).to_have_text("„notiz.txt“ ist verschlüsselt und gespeichert.")


def test_english_chosen_in_a_german_browser_formats_in_english(german):
    german.goto("/")
    expect(german.locator("html")).to_have_attribute("lang", "de")
    german.get_by_label("Sprache").select_option("en")
    expect(german.locator("html")).to_have_attribute("lang", "en")
    expect(german.locator("[data-upload='limits']")).to_have_text("Up to 256 MiB per file. Kept for up to 30 days.")
    upload_small(german)
    expect(german.locator("[data-result='expires']")).to_contain_text("In 7 days")
    expect(german.locator("[data-result='size']")).to_have_text("6 bytes")


def test_the_choice_is_remembered_and_redraws_what_is_shown(page):
    open_page(page)
    upload_small(page, "note.txt")
    expect(page.locator("[data-result='expires']")).to_contain_text("In 7 days")
    page.get_by_label("Language").select_option("fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("[data-result='expires']")).to_contain_text("Dans 7 jours")
    expect(page.locator("[data-result='title']")).to_have_text("Chiffré et enregistré")
    expect(page.get_by_role("button", name="Copier le jeton", exact=True)).to_be_visible()
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Récupérer un fichier")).to_be_visible()
    expect(page.locator("[data-upload='limits']")).to_have_text(
        "Jusqu’à 256 Mio par fichier. Conservé au plus 30 jours."
    )


def test_api_errors_are_said_in_the_page_language(page):
    open_page(page)
    page.get_by_label("Language").select_option("es")
    page.get_by_label("Token o enlace").fill("not a token")
    page.get_by_role("button", name="Comprobar el token").click()
    expect(page.locator("[data-retrieve='notice']")).to_have_text(
        "Ese token no es válido. Comprueba que lo copiaste entero, sin añadir nada."
    )


@pytest.mark.parametrize(
    ("lang", "count", "expected"),
    [("en", 1, "1 byte"), ("en", 1000, "1,000 bytes"), ("fr", 1, "1 octet"), ("fr", 1000, "1 000 octets"),
     ("de", 1000, "1.000 Bytes"), ("es", 1, "1 byte")],
)
def test_plurals_and_numbers_follow_intl(page, lang, count, expected):
    open_page(page)
    page.get_by_label("Language").select_option(lang)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    shown = page.evaluate("(n) => import('/js/format.js').then((m) => m.formatBytes(n))", count)
    assert shown.replace("\u202f", " ").replace("\xa0", " ") == expected
