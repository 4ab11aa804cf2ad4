"""The HTTP contract through Flask's test client: shapes, both upload forms, every error code."""

import io
import os

import pytest

from anon_hosting import create_app
from anon_hosting.http.headers import API_HEADERS
from anon_hosting.http.uploads import FINISH_LIMIT

from ..storage.stores import local_blob, local_entries, local_sql, replace_local_blob
from . import post_multipart

RAW = {"Content-Type": "application/octet-stream"}


def upload_raw(client, data=b"hello", name="hello.txt", query=""):
    return client.post(f"/api/files{query}", data=data, headers={**RAW, "X-File-Name": name})


def assert_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"].endswith(".")
    assert "Traceback" not in response.get_data(as_text=True)


def test_health_echoes_the_instance_id_it_was_started_with(app_config):
    client = create_app({**app_config, "INSTANCE_ID": "run-3f9c"}).test_client()
    assert client.get("/api/health").get_json() == {"status": "ok", "instance": "run-3f9c"}


def test_health_and_config(client):
    assert client.get("/api/health").get_json() == {"status": "ok"}
    assert client.get("/api/config").get_json() == {
        "website_name": "Anon Hosting", "max_upload_bytes": 3 * 1024 * 1024,
        "default_expires_in": 7 * 86400, "max_expires_in": 30 * 86400, "upload_password_required": False,
        "max_bundle_files": 1000}


@pytest.mark.parametrize("size", [0, 1, 1048575, 1048576, 1048577, 3 * 1024 * 1024])
def test_raw_upload_info_retrieve_round_trip(client, size):
    data = os.urandom(size)
    created = upload_raw(client, data, "r%C3%A9sum%C3%A9.pdf")
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"token", "owner_token", "name", "size", "expires_at", "max_downloads", "passphrase",
                         "kind"}
    assert (body["name"], body["size"], body["max_downloads"], body["kind"]) == ("résumé.pdf", size, None, "file")
    info = client.post("/api/files/info", json={"token": body["token"]}).get_json()
    assert set(info) == {"name", "size", "created_at", "expires_at", "downloads_left", "downloads_in_progress",
                         "kind"}
    assert (info["name"], info["size"], info["downloads_left"], info["downloads_in_progress"]) == (
        "résumé.pdf", size, None, 0)
    got = client.post("/api/files/retrieve", data={"token": body["token"]})
    assert got.status_code == 200
    assert got.headers["Content-Length"] == str(size)
    assert got.get_data() == data


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_the_download_form_gets_its_error_as_a_page_and_every_other_request_gets_json(client):
    spent = upload_raw(client, b"<once>", query="?max_downloads=1").get_json()["token"]
    assert client.post("/api/files/retrieve", json={"token": spent}).get_data() == b"<once>"
    page = client.post("/api/files/retrieve", data={"token": spent}, headers={"Accept": BROWSER_ACCEPT})
    assert (page.status_code, page.mimetype) == (410, "text/html")
    text = page.get_data(as_text=True)
    assert "already been downloaded as many times as allowed." in text and 'href="/"' in text
    assert page.headers["Content-Security-Policy"] == API_HEADERS["Content-Security-Policy"]
    hostile = client.post("/api/files/retrieve", data={"token": "<script>alert(1)</script>"},
                          headers={"Accept": BROWSER_ACCEPT})
    assert hostile.status_code == 400 and "<script>" not in hostile.get_data(as_text=True)
    for accept in ("*/*", "application/json", None):  # curl, scripts, fetch(): the JSON shape
        headers = {"Accept": accept} if accept else {}
        assert_error(client.post("/api/files/retrieve", data={"token": spent}, headers=headers),
                     410, "download_limit_reached")
    assert_error(client.post("/api/files/retrieve", json={"token": spent}, headers={"Accept": BROWSER_ACCEPT}),
                 410, "download_limit_reached")
    assert_error(client.post("/api/files/info", data={"token": spent}, headers={"Accept": BROWSER_ACCEPT}),
                 410, "download_limit_reached")  # only the download form navigates


def test_multipart_upload_with_fields_before_and_after_the_file(client):
    data = os.urandom(2_500_000)
    created = post_multipart(client, {"file": (data, "a.bin"), "expires_in": "3600"})
    assert created.status_code == 201, created.get_json()
    token = created.get_json()["token"]
    got = client.post("/api/files/retrieve", json={"token": token})
    assert got.get_data() == data
    boundary = "xyz"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"late.txt\"\r\n\r\n"
            f"payload\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"expires_in\"\r\n\r\n"
            f"60\r\n--{boundary}--\r\n").encode()
    late = client.post("/api/files", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert late.status_code == 201
    info = client.post("/api/files/info", json={"token": late.get_json()["token"]}).get_json()
    assert (info["name"], info["size"]) == ("late.txt", 7)


def test_expires_in_is_capped_and_validated(client, service):
    capped = upload_raw(client, query="?expires_in=999999999").get_json()
    info = client.post("/api/files/info", json={"token": capped["token"]}).get_json()
    assert info["expires_at"] == capped["expires_at"]
    from datetime import datetime
    span = datetime.fromisoformat(info["expires_at"]) - datetime.fromisoformat(info["created_at"])
    assert span.total_seconds() == service.limits.max_expires_in
    for bad in ["-5", "0", "abc", "1.5", "٣"]:
        assert_error(upload_raw(client, query=f"?expires_in={bad}"), 400, "bad_request")


def _multipart(boundary, *parts, end=True):
    body = b""
    for headers, content in parts:
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return body + (f"--{boundary}--\r\n".encode() if end else b"")


FILE_PART = ('Content-Disposition: form-data; name="file"; filename="f.txt"', b"data")
FIELD = ('Content-Disposition: form-data; name="note"', b"hi")


@pytest.mark.parametrize("body,ctype", [
    (_multipart("b", FIELD), "multipart/form-data; boundary=b"),
    (_multipart("b", FILE_PART, ('Content-Disposition: form-data; name="other"; filename="g.txt"', b"x")),
     "multipart/form-data; boundary=b"),
    (_multipart("b", ('Content-Disposition: form-data; name="other"; filename="f.txt"', b"x")),
     "multipart/form-data; boundary=b"),
    (_multipart("b", FILE_PART, end=False), "multipart/form-data; boundary=b"),
    (_multipart("b", FILE_PART), "multipart/form-data; boundary=wrong"),
    (_multipart("b", FILE_PART), "multipart/form-data"),
    (_multipart("b", *[FIELD] * 20, FILE_PART), "multipart/form-data; boundary=b"),
    (_multipart("b", ('Content-Disposition: form-data; name="expires_in"', b"1" * 5000), FILE_PART),
     "multipart/form-data; boundary=b"),
    (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n" + b"X: y\r\n" * 200_000,
     "multipart/form-data; boundary=b"),
], ids=["no file part", "second file under another name", "file under another name", "cut body", "broken boundary",
        "no boundary", "too many parts", "huge field", "endless part header"])
def test_malformed_multipart_is_bad_request_and_stores_nothing(client, storage_dir, body, ctype):
    assert_error(client.post("/api/files", data=body, content_type=ctype), 400, "bad_request")
    assert local_entries(storage_dir) == set()


def test_unsupported_media_type(client):
    assert_error(client.post("/api/files", data=b"x", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(client.post("/api/files/info", data="token=x", content_type="text/plain"),
                 415, "unsupported_media_type")


def test_raw_upload_over_the_limit_is_too_large_and_stores_nothing(client, storage_dir):
    assert_error(upload_raw(client, b"\0" * (3 * 1024 * 1024 + 1)), 413, "too_large")
    assert local_entries(storage_dir) == set()


def test_multipart_upload_over_the_limit_is_too_large_and_stores_nothing(client, storage_dir):
    assert_error(post_multipart(client, {"file": (b"\0" * (3 * 1024 * 1024 + 1), "big.bin")}), 413, "too_large")
    assert local_entries(storage_dir) == set()


def test_bad_file_name_header_is_bad_request(client):
    assert_error(upload_raw(client, name="%FF%FE"), 400, "bad_request")


@pytest.mark.parametrize("hostile,shown", [
    ("..%2F..%2Fetc%2Fpasswd", "_.._etc_passwd"), ("", "file"), ("%20%20%20", "file"),
    ("a%0D%0ASet-Cookie%3A%20x", "aSet-Cookie: x"), ("nul%00byte", "nulbyte"), ("%22%3B.txt", '";.txt'),
    ("evil%E2%80%AEtxt.exe", "eviltxt.exe"), ("zero%E2%80%8Bwidth", "zerowidth"), ("CON", "CON"),
    ("trailing...", "trailing"), ("cafe%CC%81", "café"), ("%F0%9F%98%80.png", "😀.png"),
])
def test_odd_file_names_are_cleaned_and_never_touch_storage(client, storage_dir, hostile, shown):
    body = upload_raw(client, b"x", hostile).get_json()
    assert body["name"] == shown
    blob = the_blob(storage_dir)
    assert local_entries(storage_dir) == {blob, blob + ".state"}
    got = client.post("/api/files/retrieve", json={"token": body["token"]})
    disposition = got.headers["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith('attachment; filename="')


def test_a_300_byte_name_is_shortened_keeping_its_extension(client):
    body = upload_raw(client, b"x", "a" * 300 + ".tar.gz").get_json()
    assert len(body["name"]) == 200 and body["name"].endswith(".gz")


@pytest.mark.parametrize("body,kwargs,status,code", [
    (None, {"json": {"token": "garbage"}}, 400, "invalid_token"),
    (None, {"json": {}}, 400, "bad_request"),
    (None, {"json": ["token"]}, 400, "bad_request"),
    (None, {"json": {"token": 5}}, 400, "invalid_token"),
    (b"{not json", {"content_type": "application/json"}, 400, "bad_request"),
    (b"token=" + b"A" * 70_000, {"content_type": "application/x-www-form-urlencoded"}, 413, "too_large"),
])
def test_token_body_errors(client, body, kwargs, status, code):
    for path in ("/api/files/info", "/api/files/retrieve"):
        assert_error(client.post(path, data=body, **kwargs), status, code)


def test_token_in_query_string_is_refused_even_with_a_valid_body(client):
    token = upload_raw(client).get_json()["token"]
    for path in ("/api/files/info", "/api/files/retrieve"):
        assert_error(client.post(f"{path}?token={token}", json={"token": token}), 400, "bad_request")
    assert_error(client.get(f"/api/config?token={token}"), 400, "bad_request")
    # however the name is spelled in the raw query string, as long as it decodes to "token"
    for query in (f"%74oken={token}", f"a=1&tok%65n={token}", "x=&token="):
        assert_error(client.post(f"/api/files/retrieve?{query}", json={"token": token}), 400, "bad_request")


def test_deleted_blob_is_not_found(client, storage_dir):
    token = upload_raw(client).get_json()["token"]
    local_sql(storage_dir, "DELETE FROM files")  # by something else than the app
    assert_error(client.post("/api/files/info", json={"token": token}), 404, "not_found")
    assert_error(client.post("/api/files/retrieve", json={"token": token}), 404, "not_found")


def test_expired_file_is_gone(client, service, monkeypatch):
    token = upload_raw(client, query="?expires_in=60").get_json()["token"]
    import anon_hosting.service as module
    real = module.time.time
    monkeypatch.setattr(module.time, "time", lambda: real() + 61)
    assert_error(client.post("/api/files/info", json={"token": token}), 410, "expired")
    assert_error(client.post("/api/files/retrieve", json={"token": token}), 410, "expired")


def the_blob(storage_dir):
    [blob] = [p for p in local_entries(storage_dir) if len(p) == 43]
    return blob


def test_corrupt_first_chunk_is_an_error_before_any_byte(client, storage_dir):
    token = upload_raw(client, b"secret data").get_json()["token"]
    blob = the_blob(storage_dir)
    raw = bytearray(local_blob(storage_dir, blob))
    raw[-1] ^= 1
    replace_local_blob(storage_dir, blob, bytes(raw))
    assert_error(client.post("/api/files/retrieve", json={"token": token}), 500, "internal_error")


def test_corrupt_later_chunk_aborts_the_stream(client, storage_dir):
    token = upload_raw(client, os.urandom(2 * 1048576 + 10)).get_json()["token"]
    blob = the_blob(storage_dir)
    raw = bytearray(local_blob(storage_dir, blob))
    raw[-5] ^= 1
    replace_local_blob(storage_dir, blob, bytes(raw))
    response = client.post("/api/files/retrieve", json={"token": token}, buffered=False)
    assert response.status_code == 200  # headers were sent after the first chunk checked out
    with pytest.raises(BrokenPipeError):  # gunicorn closes the connection on it, without a traceback
        response.get_data()


def test_download_headers(client):
    token = upload_raw(client, b"<script>alert(1)</script>", "x.html").get_json()["token"]
    got = client.post("/api/files/retrieve", json={"token": token})
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == "attachment; filename=\"x.html\"; filename*=UTF-8''x.html"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Cache-Control"] == "no-store"
    assert got.headers.getlist("Content-Security-Policy") == ["sandbox"]  # not the site's policy as well


@pytest.mark.parametrize("method,path,status,code", [
    ("get", "/api/nothing", 404, "not_found"), ("get", "/api/files", 405, "method_not_allowed"),
    ("delete", "/api/files/info", 405, "method_not_allowed"), ("get", "/", 404, "not_found"),
])
def test_unknown_routes_and_methods_answer_json(client, method, path, status, code):
    assert_error(getattr(client, method)(path), status, code)


def test_unexpected_errors_are_opaque_500s(client, service, monkeypatch):
    def boom():
        raise RuntimeError("secret internal detail")
    monkeypatch.setattr(service.storage, "ping", boom)
    response = client.get("/api/ready")
    assert_error(response, 500, "internal_error")
    assert "secret internal detail" not in response.get_data(as_text=True)


def test_api_answers_carry_security_headers(client):
    response = client.get("/api/config")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("method,path", [("get", "/api/config"), ("get", "/api/nothing"), ("post", "/api/files/info")])
def test_every_api_answer_carries_each_security_header_once(client, method, path):
    response = getattr(client, method)(path)
    for name, value in API_HEADERS.items():
        assert response.headers.getlist(name) == [value], name


@pytest.mark.parametrize("size,read", [(20_000, 20_000), (FINISH_LIMIT, FINISH_LIMIT), (FINISH_LIMIT + 1, 0)])
def test_a_refused_upload_reads_a_small_body_before_answering(client, size, read):
    """So that nginx, still streaming the body, does not close the client's connection after the answer
    (e2e/test_connection_reuse.py shows it through nginx); a larger body is left, and answered at once."""
    body = io.BytesIO(bytes(size))
    response = client.post("/api/files?expires_in=soon", input_stream=body, content_length=size,
                           headers={**RAW, "X-File-Name": "a.bin"})
    assert_error(response, 400, "bad_request")
    assert body.tell() == read


@pytest.mark.parametrize("path,content_type,status,code", [
    ("/api/files/info?token=x", "application/json", 400, "bad_request"),
    ("/api/files/info", "text/plain", 415, "unsupported_media_type")])
def test_a_token_request_refused_from_its_headers_still_reads_its_body(client, path, content_type, status, code):
    body = io.BytesIO(b'{"token": "' + b"x" * 300 + b'"}')
    response = client.post(path, input_stream=body, content_length=len(body.getvalue()),
                           headers={"Content-Type": content_type})
    assert_error(response, status, code)
    assert body.tell() == len(body.getvalue())
