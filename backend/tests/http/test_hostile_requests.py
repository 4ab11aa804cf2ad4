"""The loose ends of a security review, through the test client: each hostile request gets one clear JSON
error and changes nothing.

URLs never carry secrets and are never rebuilt into redirects; deep JSON, non-canonical tokens and raw
non-ASCII headers are 400s; a one-time file's broken downloads follow ``lifecycle.counts``; passphrase work
is bounded per address and per process.
"""

import os

import pytest

from anon_hosting.crypto import passphrase as pp

from ..storage.stores import local_entries
from .test_api import RAW, assert_error
from .test_lifecycle_api import info, retrieve, upload

MIB = 1024 * 1024


def stored(storage_dir) -> set[str]:
    return {e for e in local_entries(storage_dir) if not e.startswith(".sweeper")}


# -- URLs ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/files//retrieve", "/api//files/info", "//api/health", "/api/health//"])
def test_double_slashes_are_a_json_404_never_a_redirect_built_from_host(client, path):
    response = client.post(path, json={"token": "x"}, headers={"Host": "evil.example"})
    assert_error(response, 404, "not_found")
    assert "Location" not in response.headers


@pytest.mark.parametrize("url", [
    "/api//files/info?token=SECRET", "/api/files/info?passphrase=p", "/api/files/retrieve?Token=SECRET",
    "/api/nowhere?token=SECRET", "/api/files/info?a=1&PASSPHRASE=p",
    "/api/files/eyJhbGciOiJkaXIi..MTIzNDU2Nzg5MDEy.Y2lwaGVydGV4dHg.dGFnMTIzNDU2Nzg5MDEyMzQ1Ng",
    "/eyJhbGciOiJkaXIi..MTIzNDU2Nzg5MDEy.Y2lwaGVydGV4dHg.dGFnMTIzNDU2Nzg5MDEyMzQ1Ng",
])
def test_a_secret_anywhere_in_the_url_is_refused_before_anything_else(client, url):
    response = client.post(url, json={"token": "x"})
    assert_error(response, 400, "bad_request")
    assert "SECRET" not in response.get_data(as_text=True) and "Location" not in response.headers


def test_a_passphrase_in_the_query_of_an_upload_is_refused_and_nothing_is_stored(client, storage_dir):
    response = client.post("/api/files?passphrase=secret", data=b"x", headers={**RAW, "X-File-Name": "a"})
    assert_error(response, 400, "bad_request")
    assert stored(storage_dir) == set()


# -- Malformed input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    '{"token": ' + "[" * 5000 + "]" * 5000 + "}",
    "[" * 30000,
    '{"token": "x", "passphrase": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
])
def test_deeply_nested_json_is_a_400(client, body):
    assert len(body) <= 64 * 1024
    assert_error(client.post("/api/files/info", data=body, content_type="application/json"), 400, "bad_request")


def _flip_unused_bits(part: str) -> str:
    """The same bytes with the last character's unused low bits set: a second spelling base64url_decode accepts."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 4, 3: 2}[len(part) % 4]
    index = alphabet.index(part[-1])
    return part[:-1] + alphabet[index | ((1 << unused) - 1)]


def test_a_token_spelled_with_non_canonical_base64url_is_invalid(client):
    token = upload(client)["token"]
    parts = token.split(".")
    parts[4] = _flip_unused_bits(parts[4])  # the tag: 16 bytes in 22 characters, 4 bits unused
    assert parts[4] != token.split(".")[4]
    assert_error(info(client, ".".join(parts)), 400, "invalid_token")
    assert info(client, token).status_code == 200


@pytest.mark.parametrize("header", ["X-File-Name", "X-Passphrase"])
@pytest.mark.parametrize("raw", ["p\xc3\xa4ss", "p\xe4ss", "\xff"])  # UTF-8 bytes as WSGI shows them; Latin-1
def test_raw_non_ascii_in_a_header_is_refused_naming_it(client, storage_dir, header, raw):
    response = client.post("/api/files", data=b"x", headers={**RAW, "X-File-Name": "a.txt", header: raw})
    assert_error(response, 400, "bad_request")
    message = response.get_json()["error"]["message"]
    assert header in message and "percent-encode" in message.lower()
    assert stored(storage_dir) == set()


# -- One-time files --------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunks_read,counted", [(1, False), (2, True), (3, True)])
def test_a_broken_download_counts_once_more_than_half_was_sent(client, chunks_read, counted):
    data = os.urandom(3 * MIB)  # three 1-MiB chunks (the test limit): one is a third, two are more than half
    token = upload(client, data, "?max_downloads=1")["token"]
    download = client.post("/api/files/retrieve", json={"token": token}, buffered=False)
    chunks = iter(download.response)
    received = b"".join(next(chunks) for _ in range(chunks_read))
    download.close()  # the client went away
    assert data.startswith(received)
    if counted:
        assert_error(retrieve(client, token), 410, "download_limit_reached")
    else:
        assert info(client, token).get_json()["downloads_left"] == 1
        assert retrieve(client, token).get_data() == data


def test_repeated_partial_reads_get_the_same_first_part_and_never_more_than_half(client):
    data = os.urandom(3 * MIB)
    token = upload(client, data, "?max_downloads=1")["token"]
    for _ in range(5):
        download = client.post("/api/files/retrieve", json={"token": token}, buffered=False)
        received = next(iter(download.response))  # all a reader gets before the server has handed out half
        download.close()
        assert received == data[:MIB]
        assert info(client, token).get_json()["downloads_left"] == 1
    assert retrieve(client, token).get_data() == data
    assert_error(retrieve(client, token), 410, "download_limit_reached")


# -- Passphrase work -------------------------------------------------------------------------------------

@pytest.fixture
def limited_client(app_config):
    from anon_hosting import create_app
    return create_app({**app_config, "RATE_LIMIT_PASSPHRASE_REQUESTS": "2/minute"}).test_client()


def test_every_request_carrying_a_passphrase_counts_right_or_wrong(limited_client):
    token = upload(limited_client, headers={"X-Passphrase": "right"})["token"]
    plain = upload(limited_client)["token"]
    assert info(limited_client, token, passphrase="right").status_code == 200
    assert_error(info(limited_client, token, passphrase="wrong"), 403, "wrong_passphrase")
    limited = info(limited_client, token, passphrase="right")
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert info(limited_client, plain).status_code == 200, "requests without a passphrase are not counted"
    other = limited_client.post("/api/files/info", json={"token": token, "passphrase": "right"},
                                environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 200, "the limit is per address"


def test_a_passphrase_request_gets_503_when_every_slot_stays_busy(client, monkeypatch):
    token = upload(client, headers={"X-Passphrase": "right"})["token"]
    plain = upload(client)["token"]
    monkeypatch.setattr(pp, "MAX_WAIT", 0.05)
    assert pp._slots.acquire(timeout=30)  # as a long derivation in another thread would hold it
    try:
        busy = info(client, token, passphrase="right")
        assert client.get("/api/health").status_code == 200
        assert info(client, plain).status_code == 200, "passphrase-free requests never wait on scrypt"
    finally:
        pp._slots.release()
    assert_error(busy, 503, "server_busy")
    assert busy.headers["Retry-After"] == "1"
    assert info(client, token, passphrase="right").status_code == 200


def test_an_upload_with_a_passphrase_gets_503_and_stores_nothing_when_every_slot_stays_busy(
        client, storage_dir, monkeypatch):
    monkeypatch.setattr(pp, "MAX_WAIT", 0.05)
    assert pp._slots.acquire(timeout=30)
    try:
        response = client.post("/api/files", data=b"x", headers={**RAW, "X-File-Name": "a", "X-Passphrase": "p"})
    finally:
        pp._slots.release()
    assert_error(response, 503, "server_busy")
    assert stored(storage_dir) == set()
