"""Real answers from gunicorn validate against the spec: every status, content type, body and header.

Each journey sends requests a client would send and checks every answer with
``Contract.check`` (a declared status for that operation, a declared content
type, a body valid against its schema, and an error code named by the
response's description). The last test asserts that the journeys provoked
every error code a live server can be made to answer without breaking it.
"""

import base64
import http.client as httplib
import os
import socket
import time
from urllib.parse import quote

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ..integration.transfer import MIB, MultipartBody, connect, raw_upload_head
from . import spec as contract

FILES, INFO, RETRIEVE, DELETE = "/api/files", "/api/files/info", "/api/files/retrieve", "/api/files/delete"
# request_timeout needs a body that stalls for the socket timeout, server_busy every scrypt slot held: both are
# provoked in tests/integration/test_slow_clients.py and tests/http/test_hostile_requests.py.
UNREACHABLE_ON_A_HEALTHY_SERVER = {"internal_error", "storage_unavailable", "insufficient_storage", "request_timeout",
                                   "server_busy", "keys_unavailable"}
PASSWORD = "contract-upload-password"


@pytest.fixture(scope="module")
def checker():
    return contract.Contract(contract.load())


@pytest.fixture(scope="module")
def password_server(serve):
    extra = {"UPLOAD_PASSWORD": PASSWORD, "RATE_LIMIT_UPLOAD_PASSWORD": "10/10minutes"}
    with serve("contract-password", workers=1, extra_env=extra) as server:  # the limit counts per worker
        yield server


@pytest.fixture
def http(server, checker):
    """Send a request and check its answer against the spec, for the operation at ``path`` (or ``spec_path``)."""
    sessions = {}  # one per server, so each records the tokens it issued for the log audit

    def send(method: str, path: str, *, spec_path: str | None = None, base=server, **kwargs) -> requests.Response:
        session = sessions.setdefault(base.port, base.session())
        response = session.request(method, base.url(path), timeout=60, **kwargs)
        if spec_path is not False:
            checker.check(response, spec_path or path.split("?")[0], method)
        return response
    return send


def _raw(data: bytes, name: str, *, passphrase: str = "", query: str = "") -> dict:
    headers = {"Content-Type": "application/octet-stream", "X-File-Name": quote(name, safe="")}
    if passphrase:
        headers["X-Passphrase"] = quote(passphrase, safe="")
    return {"data": data, "headers": headers, "params": query or None}


def _code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


def test_service_routes(http):
    assert http("GET", "/api/health").json() == {"status": "ok"}
    config = http("GET", "/api/config").json()
    assert config["upload_password_required"] is False
    assert http("GET", "/api/openapi.yaml").text == contract.SPEC_PATH.read_text(encoding="utf-8")


def test_raw_upload_with_passphrase_and_a_download_limit(http):
    answer = http("POST", FILES, **_raw(b"contract bytes", "r\u00e9sum\u00e9.txt", passphrase="p\u00e4ss word",
                                        query="expires_in=3600&max_downloads=1")).json()
    assert (answer["name"], answer["size"], answer["max_downloads"], answer["passphrase"]) == (
        "r\u00e9sum\u00e9.txt", 14, 1, True)
    token, owner = answer["token"], answer["owner_token"]
    assert _code(http("POST", INFO, json={"token": token})) == "passphrase_required"
    assert _code(http("POST", INFO, json={"token": token, "passphrase": "nope"})) == "wrong_passphrase"
    assert http("POST", INFO, data={"token": token, "passphrase": "p\u00e4ss word"}).json()["downloads_left"] == 1
    assert _code(http("POST", RETRIEVE, json={"token": owner})) == "forbidden"
    assert http("POST", RETRIEVE, json={"token": token, "passphrase": "p\u00e4ss word"}).content == b"contract bytes"
    assert _code(http("POST", RETRIEVE, json={"token": token, "passphrase": "p\u00e4ss word"})) == (
        "download_limit_reached")
    assert _code(http("POST", INFO, json={"token": token, "passphrase": "p\u00e4ss word"})) == (
        "download_limit_reached")
    assert _code(http("POST", DELETE, json={"token": token})) == "forbidden"
    assert http("POST", DELETE, json={"token": owner}).status_code == 204
    assert _code(http("POST", DELETE, data={"token": owner})) == "not_found"
    assert _code(http("POST", INFO, json={"token": token, "passphrase": "p\u00e4ss word"})) == "not_found"


def test_multipart_upload_with_fields_after_the_file(http):
    body = MultipartBody(b"multipart bytes", "photo.jpg")
    body.tail = (f"\r\n--{body.boundary}\r\nContent-Disposition: form-data; name=\"max_downloads\"\r\n\r\n3"
                 f"\r\n--{body.boundary}--\r\n").encode()
    answer = http("POST", FILES, data=b"".join(body), headers={"Content-Type": body.content_type}).json()
    assert answer["max_downloads"] == 3
    assert http("POST", INFO, json={"token": answer["token"]}).json()["downloads_left"] == 3
    assert http("POST", RETRIEVE, data={"token": answer["token"]}).content == b"multipart bytes"


def test_request_errors(http):
    assert _code(http("POST", INFO, json={"token": "not-a-token"})) == "invalid_token"
    assert _code(http("POST", INFO, json=["token"])) == "bad_request"
    assert _code(http("POST", INFO, json={"passphrase": "x"})) == "bad_request"
    assert _code(http("POST", RETRIEVE, data="token=x", headers={"Content-Type": "text/plain"})) == (
        "unsupported_media_type")
    # gunicorn drains at most 64 KiB of an unread body, then closes the connection (though its answer said
    # keep-alive): ask for the close, so the session does not reuse a connection that is about to go.
    assert _code(http("POST", INFO, json={"token": "x" * (70 * 1024)}, headers={"Connection": "close"})) == (
        "too_large")
    assert _code(http("POST", FILES, data=b"x", headers={"Content-Type": "text/plain"})) == "unsupported_media_type"
    assert _code(http("POST", FILES, **_raw(b"x", "a", query="expires_in=soon"))) == "bad_request"
    assert _code(http("POST", FILES, **_raw(b"x", "a", query="max_downloads=1001"))) == "bad_request"
    assert _code(http("POST", FILES, data=b"--x--\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"}
                      )) == "bad_request"
    assert _code(http("GET", "/api/config?token=abc", spec_path="/api/config")) == "bad_request"
    assert _code(http("POST", "/api/files/delete?token=abc", json={"token": "abc"}, spec_path=DELETE)) == (
        "bad_request")


def test_unknown_paths_and_methods(http, checker):
    for method, path, status, code in [("GET", "/api/nothing", 404, "not_found"),
                                       ("GET", FILES, 405, "method_not_allowed"),
                                       ("PUT", "/api/health", 405, "method_not_allowed")]:
        response = http(method, path, spec_path=False)
        assert (response.status_code, _code(response)) == (status, code)
        checker.validate(response.json(), {"$ref": "#/components/schemas/Error"})
        checker.seen.add((method, path, status, code))
        if status == 405:
            assert "Allow" in response.headers


def test_upload_over_the_limit_is_413(server, checker):
    with connect(server) as sock:
        sock.sendall(raw_upload_head("big.bin", content_length=server.max_upload_bytes + 1))
        answer = httplib.HTTPResponse(sock)
        answer.begin()
        response = requests.Response()
        response.status_code, response._content = answer.status, answer.read()
        response.headers = CaseInsensitiveDict(answer.getheaders())
    checker.check(response, FILES, "POST")
    assert _code(response) == "too_large"


def test_expired_file_is_410(http):
    token = http("POST", FILES, **_raw(b"short-lived", "t.txt", query="expires_in=1")).json()["token"]
    time.sleep(1.2)
    assert _code(http("POST", INFO, json={"token": token})) == "expired"
    assert _code(http("POST", RETRIEVE, json={"token": token})) == "expired"


def test_last_download_in_progress_is_409(http, server):
    size = 48 << 20  # far more than loopback socket buffers hold, so the first download stays open
    token = http("POST", FILES, **_raw(os.urandom(size), "big.bin", query="max_downloads=1")).json()["token"]
    with requests.post(server.url(RETRIEVE), json={"token": token}, stream=True, timeout=60) as first:
        assert first.status_code == 200
        next(first.iter_content(1 << 16))
        assert _code(http("POST", RETRIEVE, json={"token": token})) == "download_in_progress"


def test_wrong_passphrases_are_rate_limited_with_retry_after(http):
    token = http("POST", FILES, **_raw(b"guarded", "g.txt", passphrase="right")).json()["token"]
    codes = [_code(http("POST", INFO, json={"token": token, "passphrase": f"wrong {i}"})) for i in range(10)]
    assert codes == ["wrong_passphrase"] * 10
    limited = http("POST", INFO, json={"token": token, "passphrase": "right"})
    assert _code(limited) == "rate_limited" and int(limited.headers["Retry-After"]) > 0


def test_upload_password(http, password_server):
    assert http("GET", "/api/config", base=password_server).json()["upload_password_required"] is True
    assert _code(http("POST", FILES, base=password_server, **_raw(b"x", "a.txt"))) == "unauthorized"
    upload = _raw(b"x", "a.txt")
    upload["headers"]["Authorization"] = f"Bearer {PASSWORD}"
    assert http("POST", FILES, base=password_server, **upload).status_code == 201
    codes = [_code(http("POST", FILES, base=password_server, **_raw(b"x", "a.txt"))) for _ in range(10)]
    assert codes[-1] == "rate_limited"
    assert set(codes) == {"unauthorized", "rate_limited"}


def test_a_resumable_upload_and_its_refusals(http, server):
    secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    tus = {"Tus-Resumable": "1.0.0", "Upload-Secret": secret}
    item = "/api/uploads/{upload_id}"
    assert http("OPTIONS", "/api/uploads").status_code == 204
    data = os.urandom(3 * MIB + 5)
    created = http("POST", "/api/uploads", headers={**tus, "Upload-Length": str(len(data))})
    location = created.headers["Location"]
    patch = {**tus, "Content-Type": "application/offset+octet-stream"}
    wrong = http("PATCH", location, spec_path=item, data=b"x", headers={**patch, "Upload-Offset": "7"})
    assert wrong.status_code == 409
    assert http("GET", location, spec_path=item, headers=tus).status_code == 409
    assert http("GET", location, spec_path=item, headers={"Upload-Secret": secret}).status_code == 412
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as held:  # a PATCH still sending
        held.sendall((f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Secret: {secret}\r\n"
                      f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:MIB + 10])
        for _ in range(100):
            busy = http("PATCH", location, spec_path=item, data=b"", headers={**patch, "Upload-Offset": str(MIB)})
            if busy.status_code == 423:
                break
            time.sleep(0.1)
        assert busy.status_code == 423
    assert http("HEAD", location, spec_path=item, headers=tus).status_code == 200
    for _ in range(100):  # until the cut PATCH has let go
        offset = int(http("HEAD", location, spec_path=item, headers=tus).headers["Upload-Offset"])
        done = http("PATCH", location, spec_path=item, data=data[offset:],
                    headers={**patch, "Upload-Offset": str(offset)})
        if done.status_code == 200:
            break
        time.sleep(0.1)
    assert done.status_code == 200
    assert http("GET", location, spec_path=item, headers=tus).json()["size"] == len(data)
    assert http("DELETE", location, spec_path=item, headers=tus).status_code == 204
    assert http("DELETE", location, spec_path=item, headers=tus).status_code == 404


def test_a_bundle_joined_from_resumable_uploads_and_its_refusals(http):
    def tus_upload(data: bytes, finish: bool = True) -> dict:
        secret = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        headers = {"Tus-Resumable": "1.0.0", "Upload-Secret": secret, "Upload-Length": str(len(data))}
        if finish:
            headers["Content-Type"] = "application/offset+octet-stream"
        created = http("POST", "/api/uploads", headers=headers, data=data if finish else None)
        return {"id": created.headers["Location"].rpartition("/")[2], "secret": secret}

    def join(uploads: list, **options) -> requests.Response:
        return http("POST", "/api/bundles", json={"uploads": uploads, **options})

    uploads = [tus_upload(b"first"), tus_upload(os.urandom(MIB + 1))]
    assert join([*uploads, tus_upload(b"later", finish=False)]).status_code == 409
    assert join([uploads[0], {**uploads[1], "secret": uploads[0]["secret"]}]).status_code == 404
    assert join([uploads[0], uploads[0]]).status_code == 400
    assert http("POST", "/api/bundles", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert http("POST", "/api/bundles", data="uploads=1").status_code == 415
    bundle = join(uploads, max_downloads=2, bundle_name="pair").json()
    assert (bundle["kind"], bundle["name"], bundle["size"]) == ("bundle", "pair.zip", MIB + 6)
    assert http("POST", RETRIEVE, json={"token": bundle["token"], "file": 0}).content == b"first"
    assert join(uploads).status_code == 404
    assert http("POST", DELETE, json={"token": bundle["owner_token"]}).status_code == 204


def test_every_reachable_error_code_was_seen(checker):
    """Run last (file order): the journeys above provoked each code a healthy server can answer."""
    seen = {code for *_, code in checker.seen if code}
    assert contract.error_codes(checker.spec) - UNREACHABLE_ON_A_HEALTHY_SERVER - seen == set()
