"""Content-Disposition per RFC 6266 / RFC 8187 for any name, and the served SPA's headers."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from anon_hosting import create_app
from anon_hosting.http.headers import SITE_HEADERS, content_disposition


@pytest.mark.parametrize("name", [
    "plain.txt", "résumé.pdf", 'quote".txt', "semi;colon.txt", "new\r\nline", "😀", "…", "a\\b", "%41.txt",
    "\u202eevil", "名前.txt",
])
def test_content_disposition_is_safe_and_exact(name):
    header = content_disposition(name)
    assert header.isascii() and "\r" not in header and "\n" not in header
    prefix, fallback_part, star_part = header.split("; ")
    assert prefix == "attachment"
    fallback = fallback_part.removeprefix('filename="').removesuffix('"')
    assert '"' not in fallback and "\\" not in fallback and ";" not in fallback and fallback
    assert unquote(star_part.removeprefix("filename*=UTF-8''")) == name


def test_the_app_serves_the_spa_with_site_headers_when_asked(tmp_path, app_config):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>x</title>")
    (site / "js").mkdir()
    (site / "js" / "app.js").write_text("export {}")
    client = create_app({**app_config, "FRONTEND_DIR": str(site)}).test_client()
    for path in ("/", "/js/app.js", "/api/config"):
        response = client.get(path)
        assert response.status_code == 200
        for header, value in SITE_HEADERS.items():
            if path.startswith("/api/"):
                assert header in response.headers
            else:
                assert response.headers[header] == value
    missing = client.get("/nope.js")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert missing.headers["Content-Security-Policy"] == SITE_HEADERS["Content-Security-Policy"]


def test_site_headers_match_nginx():
    """The app's fallback and nginx must send the same headers; this keeps the two copies in step."""
    conf = (Path(__file__).resolve().parents[3] / "nginx" / "security-headers.conf").read_text()
    nginx = dict(re.findall(r'^add_header ([\w-]+) "([^"]*)" always;', conf, re.MULTILINE))
    nginx["Content-Security-Policy"] = nginx["Content-Security-Policy"].replace("$anon_hosting_csp_sandbox", "")
    assert nginx == SITE_HEADERS


def test_the_fallback_serves_only_the_pages_own_files(tmp_path, app_config):
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "node_modules").mkdir()
    for name in ("index.html", "js/main.js", "package.json", "README.md", "node_modules/x.js", ".env"):
        (site / name).write_text("x")
    client = create_app({**app_config, "FRONTEND_DIR": str(site)}).test_client()
    assert client.get("/js/main.js").status_code == 200
    for path in ("/package.json", "/README.md", "/node_modules/x.js", "/.env", "/js/../package.json"):
        assert client.get(path).status_code == 404, path
