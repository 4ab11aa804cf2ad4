"""Bundles through the app factory and Flask's test client: limits, options, tokens and cleanup."""

import base64
import io
import json
import zipfile

import pytest

from anon_hosting import create_app, tokens
from anon_hosting.bundles import member_name
from anon_hosting.crypto import stream

from .storage.stores import local_blob, local_entries, local_state

BOUNDARY = "AnonHostingBundleBoundary-0123456789"


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "MAX_BUNDLE_FILES": "4", "MAX_UPLOAD_BYTES": "100000"})


def multipart(*parts, end=True) -> bytes:
    """``(name, value)`` fields and ``(filename, bytes)`` file parts, marked by a bytes value."""
    body = b""
    for name, value in parts:
        if isinstance(value, bytes):
            head = f'Content-Disposition: form-data; name="file"; filename="{name}"'
        else:
            head, value = f'Content-Disposition: form-data; name="{name}"', value.encode()
        body += f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + value + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if end else b"")


def post(client, *parts, end=True):
    return client.post("/api/files", data=multipart(*parts, end=end),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def error(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def test_one_file_part_is_a_plain_file_and_several_are_a_bundle(client):
    plain = post(client, ("a.txt", b"A")).get_json()
    assert (plain["kind"], plain["name"], "files" not in plain) == ("file", "a.txt", True)
    bundle = post(client, ("a.txt", b"A"), ("b/c.txt", b"BC"), ("d", b"")).get_json()
    assert (bundle["kind"], bundle["name"], bundle["size"]) == ("bundle", "a.txt and 2 more.zip", 3)
    named = post(client, ("bundle_name", "Trip / 2026"), ("a", b"1"), ("b", b"2")).get_json()
    assert named["name"] == "Trip _ 2026.zip"


@pytest.mark.parametrize("parts", [
    [("f", b"x")] * 5,
    [("a", b"x" * 60000), ("b", b"y" * 40001)],
], ids=["more files than MAX_BUNDLE_FILES", "more bytes in all than MAX_UPLOAD_BYTES"])
def test_past_the_limits_is_413_and_stores_nothing(client, storage_dir, parts):
    assert error(post(client, *parts)) == (413, "too_large")
    assert local_entries(storage_dir) == set()


@pytest.mark.parametrize("parts,end", [
    ([("a", b"1"), ("b", b"2")], False),
    ([("a", b"1"), ("b", b"2"), ("max_downloads", "zero")], True),
    ([("a", b"1"), ("b", b"2")] + [("note", "x")] * 9, True),
], ids=["cut after the last file", "bad option after the files", "too many fields"])
def test_a_bad_end_after_stored_files_is_400_and_leaves_nothing(client, storage_dir, parts, end):
    assert error(post(client, *parts, end=end)) == (400, "bad_request")
    assert local_entries(storage_dir) == set()


def test_a_protected_bundle_keeps_a_short_token_and_needs_its_passphrase(client):
    answer = post(client, ("passphrase", "correct horse"), ("expires_in", "86400"), ("max_downloads", "1000"),
                  ("a", b"1"), ("b", b"2")).get_json()
    assert answer["passphrase"] is True and len(answer["token"]) <= 360
    token = answer["token"]
    assert error(client.post("/api/files/info", json={"token": token})) == (401, "passphrase_required")
    assert error(client.post("/api/files/info", json={"token": token, "passphrase": "no"})) == (403, "wrong_passphrase")
    described = client.post("/api/files/info", json={"token": token, "passphrase": "correct horse"}).get_json()
    assert [f["downloads_left"] for f in described["files"]] == [1000, 1000]
    got = client.post("/api/files/retrieve", json={"token": token, "passphrase": "correct horse", "file": 1})
    assert got.get_data() == b"2"


def test_options_after_the_files_reach_every_file_of_the_bundle(client, storage_dir):
    answer = post(client, ("a", b"1"), ("b", b"2"), ("expires_in", "60")).get_json()
    names = [n.removesuffix(".state") for n in local_entries(storage_dir) if n.endswith(".state")]
    [manifest] = [n for n in names if member_name(n, 0) in names]
    expiries = {local_state(storage_dir, n)["exp"] for n in names}
    assert len(expiries) == 1 and answer["expires_at"] is not None
    assert local_state(storage_dir, manifest)["n"] == 2


def test_tokens_cannot_stand_in_for_each_other(client):
    answer = post(client, ("a", b"1"), ("b", b"2")).get_json()
    assert error(client.post("/api/files/info", json={"token": answer["owner_token"]})) == (403, "forbidden")
    assert error(client.post("/api/files/delete", json={"token": answer["token"]})) == (403, "forbidden")


def test_the_sweeper_removes_an_expired_bundle_whole(client, service, storage_dir):
    post(client, ("expires_in", "60"), ("a", b"1" * 5000), ("b", b"2"))
    assert len(local_entries(storage_dir)) == 6
    assert service.sweep(now=4_000_000_000) == 3
    assert local_entries(storage_dir) == set()


def test_the_manifest_is_stream_encrypted_json_of_paths_sizes_and_keys(client, service, storage_dir):
    answer = post(client, ("a/b.txt", b"1"), ("c", b"22")).get_json()
    claims = tokens.verify(answer["token"], service.keyring)
    sealed = io.BytesIO(local_blob(storage_dir, claims.storage_name))
    manifest = json.loads(b"".join(stream.open_blob(claims.file_key, sealed.read, len(sealed.getvalue()))))
    assert set(manifest) == {"v", "name", "files"} and manifest["name"] == "b.txt and 1 more.zip"
    assert [(f["n"], f["z"], len(base64.urlsafe_b64decode(f["k"]))) for f in manifest["files"]] == [
        ("a/b.txt", 1, 32), ("c", 2, 32)]


def test_file_parts_without_a_name_are_named_file(client):
    assert [f["name"] for f in post(client, ("", b""), ("", b"")).get_json()["files"]] == ["file", "file"]


def test_small_files_past_one_batch_and_a_large_one_between_them_round_trip(app_config, tmp_path):
    client = create_app({**app_config, "MAX_UPLOAD_BYTES": str(20 << 20)}).test_client()
    files = [(f"s{i}.bin", bytes([i]) * (900 << 10)) for i in range(12)]
    files.insert(5, ("large.bin", b"L" * (2 << 20)))
    answer = post(client, *files).get_json()
    assert answer["size"] == sum(len(d) for _, d in files)
    archive = zipfile.ZipFile(io.BytesIO(client.post("/api/files/retrieve", json={"token": answer["token"]}).data))
    assert {n: archive.read(n) for n in archive.namelist()} == dict(files)
