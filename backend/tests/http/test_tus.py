"""The tus routes through Flask's test client: protocol headers, the creation/PATCH/HEAD/GET/DELETE cycle,
resuming at chunk boundaries, and every hostile header answered with one JSON error that changes nothing."""

import base64
import os
import secrets

import pytest

from anon_hosting.crypto.stream import CHUNK_SIZE

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def metadata(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


@pytest.fixture
def secret():
    return b64url(secrets.token_bytes(32))


def create(client, secret, length, meta="", body=None, **extra):
    headers = {**TUS, "Upload-Secret": secret, "Upload-Length": str(length), "Upload-Metadata": meta, **extra}
    if body is not None:
        headers["Content-Type"] = OFFSET_TYPE
    return client.post("/api/uploads", headers=headers, data=body)


def patch(client, location, secret, offset, body):
    return client.patch(location, data=body, headers={**TUS, "Upload-Secret": secret, "Upload-Offset": str(offset),
                                                      "Content-Type": OFFSET_TYPE})


def head(client, location, secret):
    return client.head(location, headers={**TUS, "Upload-Secret": secret})


def download(client, token):
    return client.post("/api/files/retrieve", json={"token": token})


def upload_dir(app):
    return app.config["SITE"].storage_dir / ".uploads"


def test_options_names_the_version_extensions_and_max_size(client):
    answer = client.options("/api/uploads")
    assert answer.status_code == 204
    assert answer.headers["Tus-Version"] == "1.0.0" and answer.headers["Tus-Resumable"] == "1.0.0"
    assert set(answer.headers["Tus-Extension"].split(",")) == {"creation", "creation-with-upload", "termination",
                                                               "expiration"}
    assert answer.headers["Tus-Max-Size"] == str(3 * 1024 * 1024)


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE + 500])
def test_one_patch_uploads_and_the_answer_is_the_files_json(client, secret, size):
    data = os.urandom(size)
    created = create(client, secret, size, metadata(filename="a.bin", max_downloads="2"))
    assert created.status_code == 201, created.json
    location = created.headers["Location"]
    assert location.startswith("/api/uploads/")
    if size == 0:  # an empty upload is finished by its creation
        answer = created
    else:
        assert created.headers["Upload-Offset"] == "0" and "Upload-Expires" in created.headers
        answer = patch(client, location, secret, 0, data)
        assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["name"], body["size"], body["max_downloads"]) == ("a.bin", size, 2)
    assert download(client, body["token"]).data == data
    assert head(client, location, secret).headers["Upload-Offset"] == str(size)
    again = client.get(location, headers={**TUS, "Upload-Secret": secret})
    assert again.status_code == 200 and again.json["name"] == "a.bin"
    assert download(client, again.json["token"]).data == data


def test_creation_with_upload_finishes_in_the_post(client, secret):
    data = os.urandom(CHUNK_SIZE + 7)
    answer = create(client, secret, len(data), metadata(filename="x"), body=data)
    assert answer.status_code == 201 and answer.json["size"] == len(data)
    assert download(client, answer.json["token"]).data == data


def test_a_short_patch_keeps_whole_chunks_and_the_rest_resumes(client, secret):
    data = os.urandom(2 * CHUNK_SIZE + 10)
    location = create(client, secret, len(data)).headers["Location"]
    first = patch(client, location, secret, 0, data[:CHUNK_SIZE + 5])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(CHUNK_SIZE)
    assert head(client, location, secret).headers["Upload-Offset"] == str(CHUNK_SIZE)
    stale = patch(client, location, secret, 0, data)
    assert stale.status_code == 409 and stale.json["error"]["code"] == "offset_mismatch"
    done = patch(client, location, secret, CHUNK_SIZE, data[CHUNK_SIZE:])
    assert done.status_code == 200
    assert download(client, done.json["token"]).data == data


def test_the_last_chunk_is_never_counted_before_the_upload_finishes(client, secret):
    data = os.urandom(2 * CHUNK_SIZE)
    location = create(client, secret, len(data)).headers["Location"]
    assert patch(client, location, secret, 0, data[:-1]).headers["Upload-Offset"] == str(CHUNK_SIZE)


def test_a_wrong_secret_is_an_unknown_upload_and_changes_nothing(client, secret, app):
    data = os.urandom(CHUNK_SIZE + 1)
    location = create(client, secret, len(data)).headers["Location"]
    other = b64url(secrets.token_bytes(32))
    before = sorted(p.name for p in upload_dir(app).iterdir())
    for answer in (head(client, location, other), patch(client, location, other, 0, data),
                   client.delete(location, headers={**TUS, "Upload-Secret": other}),
                   client.get(location, headers={**TUS, "Upload-Secret": other})):
        assert answer.status_code == 404
    assert sorted(p.name for p in upload_dir(app).iterdir()) == before
    assert head(client, location, secret).headers["Upload-Offset"] == "0"
    unknown = "/api/uploads/" + "A" * 43
    assert head(client, unknown, secret).status_code == 404


@pytest.mark.parametrize("value", [None, "", "short", b64url(b"x" * 31), b64url(b"x" * 65), "not base64!!", "é" * 50])
def test_a_missing_or_malformed_secret_is_bad_request(client, value, app):
    headers = {**TUS, "Upload-Length": "10"}
    if value is not None:
        headers["Upload-Secret"] = value
    answer = client.post("/api/uploads", headers=headers)
    assert answer.status_code == 400 and answer.json["error"]["code"] == "bad_request"
    assert not upload_dir(app).exists() or not any(upload_dir(app).iterdir())


@pytest.mark.parametrize("headers,status,code", [
    ({"Upload-Length": "-1"}, 400, "bad_request"),
    ({"Upload-Length": "1e3"}, 400, "bad_request"),
    ({}, 400, "bad_request"),
    ({"Upload-Defer-Length": "1"}, 400, "bad_request"),
    ({"Upload-Length": str(3 * 1024 * 1024 + 1)}, 413, "too_large"),
    ({"Upload-Length": "5", "Upload-Metadata": "filename !!!"}, 400, "bad_request"),
    ({"Upload-Length": "5", "Upload-Metadata": metadata(max_downloads="0")}, 400, "bad_request"),
    ({"Upload-Length": "5", "Upload-Metadata": metadata(expires_in="-3")}, 400, "bad_request"),
    ({"Upload-Length": "5", "Tus-Resumable": "0.2.2"}, 412, "unsupported_version"),
])
def test_hostile_creation_headers_get_one_json_error_and_leave_nothing(client, secret, app, headers, status, code):
    answer = client.post("/api/uploads", headers={**TUS, "Upload-Secret": secret, **headers})
    assert (answer.status_code, answer.json["error"]["code"]) == (status, code)
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert not upload_dir(app).exists() or not any(upload_dir(app).iterdir())


def test_patch_needs_the_offset_content_type_and_a_valid_offset(client, secret):
    location = create(client, secret, 100).headers["Location"]
    wrong_type = client.patch(location, data=b"x", headers={**TUS, "Upload-Secret": secret, "Upload-Offset": "0",
                                                             "Content-Type": "application/octet-stream"})
    assert wrong_type.status_code == 415
    assert patch(client, location, secret, "x", b"x").status_code == 400
    assert patch(client, location, secret, 0, b"x" * 101).status_code == 400
    assert head(client, location, secret).headers["Upload-Offset"] == "0"


def test_delete_terminates_and_then_the_upload_is_gone(client, secret, app):
    location = create(client, secret, CHUNK_SIZE * 2).headers["Location"]
    patch(client, location, secret, 0, os.urandom(CHUNK_SIZE + 1))
    assert client.delete(location, headers={**TUS, "Upload-Secret": secret}).status_code == 204
    assert head(client, location, secret).status_code == 404
    assert list(upload_dir(app).iterdir()) == []


def test_the_sweeper_removes_an_upload_past_its_expiry(client, secret, app):
    location = create(client, secret, CHUNK_SIZE * 2).headers["Location"]
    patch(client, location, secret, 0, os.urandom(CHUNK_SIZE + 1))
    uploads = app.extensions["anon_hosting.uploads"]
    assert app.extensions["anon_hosting"].sweep() == 0
    assert uploads.sweep(now=2**40) == 1
    assert list(upload_dir(app).iterdir()) == []
    assert head(client, location, secret).status_code == 404


def test_a_finished_uploads_record_expires_after_the_session_ttl(client, secret, app):
    answer = create(client, secret, 3, body=b"abc")
    location = answer.headers["Location"]
    uploads = app.extensions["anon_hosting.uploads"]
    assert uploads.sweep(now=2**40) == 1
    assert client.get(location, headers={**TUS, "Upload-Secret": secret}).status_code == 404
    assert download(client, answer.json["token"]).data == b"abc"  # the file itself lives on
