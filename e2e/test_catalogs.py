"""Every string the page shows comes from frontend/locales/<lang>.json, and every catalog is complete.

No browser: these read the files. A key missing from a catalog, a placeholder
dropped in a translation, a key the code asks for that no catalog has, or a
sentence left in index.html or in a module fails here.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
LOCALES = FRONTEND / "locales"
LANGUAGES = ("en", "fr", "de", "es")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Attributes a person reads or hears.
READ_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt", "content", "aria-description"}
# Keys built at run time from a server or page error code: error.<code>, mine.gone.<code>.
DYNAMIC_PREFIXES = ("error.", "mine.gone.")


def catalog(lang: str) -> dict:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def forms(entry) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def placeholders(entry) -> set[str]:
    return {name for text in forms(entry) for name in PLACEHOLDER.findall(text)}


def js_sources() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((FRONTEND / "js").glob("*.js"))}


def test_the_switcher_offers_exactly_the_shipped_catalogs():
    shipped = sorted(path.stem for path in LOCALES.glob("*.json"))
    assert shipped == sorted(LANGUAGES)
    offered = re.search(r"LANGUAGES = \{([^}]*)\}", js_sources()["i18n.js"]).group(1)
    assert sorted(re.findall(r"(\w+):", offered)) == sorted(LANGUAGES)


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_has_every_key_with_the_same_placeholders(lang):
    english, other = catalog("en"), catalog(lang)
    assert sorted(set(english) - set(other)) == [], f"missing from {lang}.json"
    assert sorted(set(other) - set(english)) == [], f"only in {lang}.json"
    for key, entry in english.items():
        assert placeholders(other[key]) == placeholders(entry), (lang, key)
        assert all(text.strip() for text in forms(other[key])), (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_entries_have_one_and_other(lang):
    for key, entry in catalog(lang).items():
        if isinstance(entry, dict):
            assert {"one", "other"} <= set(entry), (lang, key)
            assert set(entry) <= {"zero", "one", "two", "few", "many", "other"}, (lang, key)
            assert "count" in placeholders(entry) or key.startswith("result.recipient"), (lang, key)


def keys_used() -> set[str]:
    """Keys named in a module (any quoted key, as `t()` and ternaries pass them) or in index.html."""
    used = set()
    for source in js_sources().values():
        used.update(re.findall(r"""['"]([a-z]+\.[\w.]+)['"]""", source))
    html = (FRONTEND / "index.html").read_text(encoding="utf-8")
    used.update(re.findall(r'data-i18n="([\w.]+)"', html))
    for spec in re.findall(r'data-i18n-attr="([^"]+)"', html):
        used.update(pair.split(":")[1].strip() for pair in spec.split(";"))
    return used


def test_every_key_the_page_asks_for_exists():
    english = catalog("en")
    for source in js_sources().values():
        for key in re.findall(r"""\bt\(\s*['"]([\w.]+)['"]""", source):
            assert key in english, key
    html = (FRONTEND / "index.html").read_text(encoding="utf-8")
    for key in re.findall(r'data-i18n="([\w.]+)"', html):
        assert key in english, key


def test_every_catalog_key_is_used():
    used = keys_used()
    unused = [key for key in catalog("en") if key not in used and not key.startswith(DYNAMIC_PREFIXES)]
    assert unused == []


class _TextFinder(HTMLParser):
    """Collects text and read attributes that do not come from the catalog."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.loose: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        spec = attributes.get("data-i18n-attr") or ""
        translated = {pair.split(":")[0].strip() for pair in spec.split(";") if pair}
        read_meta = tag != "meta" or attributes.get("name") == "description"
        for name, value in attributes.items():
            if name in READ_ATTRIBUTES and value and name not in translated and read_meta:
                self.loose.append(f"<{tag} {name}={value!r}>")
        if tag not in {"meta", "link", "input", "br", "img", "path", "rect", "circle"}:
            self.stack.append((tag, attributes))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not data.strip() or not self.stack:
            return
        tag, attributes = self.stack[-1]
        if tag in {"script", "style"} or "data-i18n" in attributes or "data-site-name" in attributes:
            return
        if tag == "title":
            return  # the site's name, replaced by the server's WEBSITE_NAME
        self.loose.append(f"<{tag}>{data.strip()}")


def test_no_text_left_in_index_html():
    finder = _TextFinder()
    finder.feed((FRONTEND / "index.html").read_text(encoding="utf-8"))
    assert finder.loose == []


LITERAL = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`""")
COMMENT = re.compile(r"/\*.*?\*/|(?<![:'\"])//[^\n]*", re.S)
# Two words in a row, a sentence's end after a space, or one capitalised word: what a person would read.
WORDS = re.compile(r"[A-Za-zÀ-ÿ]{2,}[ ,][A-Za-zÀ-ÿ]{2,}| .*[A-Za-z][.!?…]$|^[A-Z][a-zà-ÿ]+$")
# Literals that are not shown: language names (the switcher shows each in its own language), DOM and
# HTTP names, and the exception for a missing catalog.
NOT_SHOWN = {"English", "Français", "Deutsch", "Español", "no catalog"}
NOT_SHOWN |= {"Files", "Escape", "Byte", "Accept", "ApiError", "Authorization"}


def loose_literals(source: str) -> list[str]:
    found = []
    for match in LITERAL.finditer(COMMENT.sub("", source)):
        text = re.sub(r"\$\{[^}]*\}", "", match.group(0)[1:-1])
        if text in NOT_SHOWN or text.startswith("catalog "):
            continue
        if WORDS.search(text):
            found.append(match.group(0))
    return found


@pytest.mark.parametrize("name", sorted(js_sources()))
def test_no_sentence_left_in_a_module(name):
    assert loose_literals(js_sources()[name]) == []


def test_the_check_finds_a_sentence_left_in_code():
    assert loose_literals("notice.info(`Uploading “${name}” now…`);") != []
    assert loose_literals("el.textContent = 'Copied to the clipboard';") != []
    assert loose_literals("el.textContent = t('result.copied');") == []
