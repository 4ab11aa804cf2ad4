"""The security headers on every kind of route nginx serves, each sent exactly once.

With E2E_NGINX=0 (gunicorn alone, FRONTEND_DIR) the same headers are checked
on the backend's own answers; checks of nginx-only behaviour are skipped.
"""

import socket

import pytest
import requests

from helpers import CSP, assert_security_headers, upload_via_http


@pytest.fixture(scope="module")
def behind_nginx(stack):
    return stack.use_nginx


@pytest.fixture
def nginx_only(behind_nginx):
    if not behind_nginx:
        pytest.skip("checks nginx itself")


def test_page(base_url, behind_nginx):
    response = requests.get(f"{base_url}/", timeout=10)
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]
    assert_security_headers(response)
    assert response.headers["Cache-Control"].startswith("no-cache")
    if behind_nginx:
        assert response.headers["Server"] == "nginx"


def test_static_asset_is_cached_and_gzipped(base_url, nginx_only):
    response = requests.get(f"{base_url}/js/main.js", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert_security_headers(response)


def test_api_json(base_url):
    response = requests.get(f"{base_url}/api/config", timeout=10)
    assert response.status_code == 200 and response.json()["max_upload_bytes"] > 0
    assert_security_headers(response)
    assert response.raw.headers.getlist("Cache-Control") == ["no-store"]


def test_api_json_error(base_url):
    response = requests.post(f"{base_url}/api/files/info", json={"token": "nope"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_token"
    assert_security_headers(response)


def test_download_is_sandboxed(base_url, behind_nginx):
    token = upload_via_http(base_url, b"<script>alert(1)</script>", "evil.html")["token"]
    response = requests.post(f"{base_url}/api/files/retrieve", data={"token": token}, timeout=10)
    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.raw.headers.getlist("Cache-Control") == ["no-store"]
    assert_security_headers(response, csp=CSP + "; sandbox" if behind_nginx else "sandbox")


@pytest.mark.parametrize(
    "path",
    ["/no-such-page", "/js/missing.js", "/.env", "/.git/config", "/package.json", "/node_modules/x.js",
     "/storage/", "/private/keys.json", "/README.md"],
)
def test_not_found_and_denied_paths(base_url, path):
    response = requests.get(f"{base_url}{path}", timeout=10)
    assert response.status_code == 404
    assert_security_headers(response)


def test_not_found_page_is_internal(base_url, nginx_only):
    response = requests.get(f"{base_url}/404.html", timeout=10)
    assert response.status_code == 404 and "Page not found" in response.text
    assert_security_headers(response)


def test_body_too_large_is_json(base_url, nginx_only):
    # Small endpoints allow 64 KiB bodies; nginx answers 413 itself, as JSON.
    response = requests.post(f"{base_url}/api/files/info", data=b"x" * 100_000, timeout=10)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "too_large"
    assert_security_headers(response)


def test_upload_over_nginx_limit_is_refused_before_the_body(stack, nginx_only):
    """A declared Content-Length over client_max_body_size gets 413 at once."""
    host, port = "127.0.0.1", stack.web_port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(
            b"POST /api/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"X-File-Name: big.bin\r\nContent-Length: 10000000000\r\n\r\n"
        )
        reply = conn.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")
    assert '"code":"too_large"' in reply
    assert "Content-Security-Policy: " + CSP in reply


def test_backend_down_is_json_502(tmp_path, nginx_only):
    """nginx's own 502 speaks the API's JSON error shape, with the same headers."""
    import secrets

    from stack import Stack

    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48)}
    with Stack(storage_dir=tmp_path / "f", private_dir=tmp_path / "p", workdir=tmp_path / "w", env=env) as own:
        if not own.use_nginx:
            pytest.skip("nginx is not installed")
        own.gunicorn.terminate()
        own.gunicorn.wait(30)
        response = requests.get(f"{own.url}/api/config", timeout=10)
        assert response.status_code == 502
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "unavailable"
        assert_security_headers(response)
