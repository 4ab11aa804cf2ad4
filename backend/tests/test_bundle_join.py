"""Joining finished tus uploads into a bundle (POST /api/bundles) through the app factory and Flask's test client:
the bundle behaves as a multipart one, the uploads' own tokens and records are spent, and every hostile
body gets one JSON error that changes nothing."""

import base64
import io
import os
import secrets
import time
import zipfile

import pytest

from anon_hosting import create_app, lifecycle, tokens
from anon_hosting.crypto.stream import CHUNK_SIZE

from .storage.stores import local_entries, local_state
from .test_bundles import post as post_multipart

TUS = {"Tus-Resumable": "1.0.0"}
MAX_BYTES = 3 * CHUNK_SIZE


@pytest.fixture
def app(app_config):
    return create_app({**app_config, "MAX_BUNDLE_FILES": "4", "MAX_UPLOAD_BYTES": str(MAX_BYTES),
                       "RATE_LIMIT_UPLOADS": "0"})


def new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def tus_upload(client, data: bytes, name: str = "f.bin", finish: bool = True, member: bool = False) -> dict:
    """A finished (or, with ``finish`` False, an unfinished) tus upload: its join entry and its own answer.
    ``member``: a bundle member's (``bundle`` in its Upload-Metadata, as the page sends it)."""
    secret, meta = new_secret(), f"filename {base64.b64encode(name.encode()).decode()}" + (",bundle " if member else "")
    headers = {**TUS, "Upload-Secret": secret, "Upload-Length": str(len(data)), "Upload-Metadata": meta}
    if finish and data:
        headers["Content-Type"] = "application/offset+octet-stream"
    created = client.post("/api/uploads", headers=headers, data=data if finish else None)
    assert created.status_code == 201, created.json
    upload_id = created.headers["Location"].rpartition("/")[2]
    return {"entry": {"id": upload_id, "secret": secret}, "answer": created.json}


def join(client, uploads, **options):
    return client.post("/api/bundles", json={"uploads": [u["entry"] for u in uploads], **options})


def error(response) -> tuple[int, str]:
    return response.status_code, response.get_json()["error"]["code"]


def retrieve(client, token, file=None):
    return client.post("/api/files/retrieve", json={"token": token, **({} if file is None else {"file": file})})


def stored(storage_dir) -> set[str]:
    """Every blob and state, and the resumable uploads' records."""
    records = {p.name for p in (storage_dir / ".uploads").iterdir()} if (storage_dir / ".uploads").exists() else set()
    return local_entries(storage_dir) - {".uploads"} | records


def snapshot(storage_dir) -> dict:
    """Every entry of the storage, with each state: what a refused join must leave as it was."""
    names = local_entries(storage_dir)
    return {n: local_state(storage_dir, n.removesuffix(".state")) for n in names if n.endswith(".state")} | {
        n: (storage_dir / n).exists() for n in names if not n.endswith(".state")} | {
        "records": sorted(stored(storage_dir))}


def test_a_joined_bundle_answers_and_behaves_as_a_multipart_one(client):
    data = [os.urandom(CHUNK_SIZE + 5), b"", os.urandom(1000)]
    uploads = [tus_upload(client, d, n) for d, n in zip(data, ["a.bin", "e", "c.txt"], strict=True)]
    uploads[2]["entry"]["path"] = "docs/../c.txt"
    answer = join(client, uploads, bundle_name="Trip", expires_in=3600)
    assert answer.status_code == 201, answer.json
    body = answer.json
    multipart = post_multipart(client, ("a", b"1"), ("b", b"2")).get_json()
    assert set(body) == set(multipart) and body["kind"] == "bundle" and len(body["token"]) <= 360
    assert (body["name"], body["size"]) == ("Trip.zip", sum(map(len, data)))
    assert body["files"] == [{"index": 0, "name": "a.bin", "size": len(data[0])}, {"index": 1, "name": "e", "size": 0},
                             {"index": 2, "name": "docs/c.txt", "size": 1000}]
    info = client.post("/api/files/info", json={"token": body["token"]}).json
    assert info["kind"] == "bundle" and [f["name"] for f in info["files"]] == ["a.bin", "e", "docs/c.txt"]
    for index, expected in enumerate(data):
        assert retrieve(client, body["token"], index).data == expected
    archive = zipfile.ZipFile(io.BytesIO(retrieve(client, body["token"]).data))
    assert archive.testzip() is None
    assert [archive.read(n) for n in archive.namelist()] == data


def test_the_uploads_own_tokens_and_records_are_spent(client):
    data = [os.urandom(10), os.urandom(20)]
    uploads = [tus_upload(client, d) for d in data]
    bundle = join(client, uploads).json
    for upload in uploads:
        own, location = upload["answer"], f"/api/uploads/{upload['entry']['id']}"
        assert error(client.post("/api/files/info", json={"token": own["token"]})) == (404, "not_found")
        assert error(retrieve(client, own["token"])) == (404, "not_found")
        assert error(client.post("/api/files/delete", json={"token": own["owner_token"]})) == (404, "not_found")
        assert client.get(location, headers={**TUS, "Upload-Secret": upload["entry"]["secret"]}).status_code == 404
    assert error(join(client, uploads)) == (404, "not_found")
    assert [retrieve(client, bundle["token"], i).data for i in (0, 1)] == data


def test_a_one_time_bundle_counts_each_file_and_deletes_its_blobs(client, storage_dir):
    uploads = [tus_upload(client, os.urandom(100)) for _ in range(2)]
    bundle = join(client, uploads, max_downloads=1).json
    first = uploads[0]["entry"]["id"]
    assert len(retrieve(client, bundle["token"], 0).data) == 100  # read to its end, so it counts
    assert f"{first}.state" not in local_entries(storage_dir)  # a used-up file's blob goes at once
    assert error(retrieve(client, bundle["token"], 0)) == (410, "download_limit_reached")
    assert error(retrieve(client, bundle["token"])) == (410, "download_limit_reached")
    assert len(retrieve(client, bundle["token"], 1).data) == 100
    assert error(client.post("/api/files/info", json={"token": bundle["token"]})) == (410, "download_limit_reached")


def test_the_owner_token_deletes_manifest_blobs_and_states(client, storage_dir):
    uploads = [tus_upload(client, os.urandom(n)) for n in (CHUNK_SIZE + 1, 10)]
    bundle = join(client, uploads).json
    assert client.post("/api/files/delete", json={"token": bundle["owner_token"]}).status_code == 204
    assert stored(storage_dir) == set()
    assert error(retrieve(client, bundle["token"], 0)) == (404, "not_found")


def test_the_files_take_the_bundles_expiry_and_the_sweeper_removes_it_whole(client, service, storage_dir):
    uploads = [tus_upload(client, os.urandom(n)) for n in (CHUNK_SIZE + 1, 10)]
    join(client, uploads, expires_in="60")
    states = [local_state(storage_dir, n.removesuffix(".state")) for n in local_entries(storage_dir)
              if n.endswith(".state")]
    assert len(states) == 3 and len({s["exp"] for s in states}) == 1
    assert [s.get("names") for s in states if "n" in s] == [[u["entry"]["id"] for u in uploads]]
    assert service.sweep(now=4_000_000_000) == 3
    assert stored(storage_dir) == set()


def test_a_protected_bundle_needs_its_passphrase(client):
    bundle = join(client, [tus_upload(client, b"1"), tus_upload(client, b"2")], passphrase="correct horse").json
    assert bundle["passphrase"] is True
    assert error(client.post("/api/files/info", json={"token": bundle["token"]})) == (401, "passphrase_required")
    got = client.post("/api/files/retrieve", json={"token": bundle["token"], "passphrase": "correct horse", "file": 1})
    assert got.data == b"2"


def _unknown(client, uploads):
    uploads[1]["entry"]["id"] = "A" * 43


def _wrong_secret(client, uploads):
    uploads[1]["entry"]["secret"] = new_secret()


def _unfinished(client, uploads):
    uploads.append(tus_upload(client, b"12345", finish=False))


def _deleted_by_its_owner(client, uploads):
    client.post("/api/files/delete", json={"token": uploads[1]["answer"]["owner_token"]})


@pytest.mark.parametrize("spoil,expected", [
    (_unknown, (404, "not_found")),
    (_wrong_secret, (404, "not_found")),
    (_unfinished, (409, "upload_unfinished")),
    (lambda client, uploads: uploads.append(uploads[0]), (400, "bad_request")),
    (lambda client, uploads: uploads.extend(tus_upload(client, b"x") for _ in range(3)), (413, "too_large")),
    (lambda client, uploads: uploads.append(tus_upload(client, os.urandom(2 * CHUNK_SIZE))), (413, "too_large")),
    (lambda client, uploads: uploads[1]["entry"].update(secret="short"), (400, "bad_request")),
    (lambda client, uploads: uploads[1]["entry"].update(path=7), (400, "bad_request")),
    (lambda client, uploads: uploads.pop(), (400, "bad_request")),
], ids=["unknown id", "wrong secret", "unfinished", "listed twice", "more than MAX_BUNDLE_FILES",
        "more than MAX_UPLOAD_BYTES", "malformed secret", "path not a string", "one upload"])
def test_a_refused_join_changes_nothing(client, storage_dir, spoil, expected):
    uploads = [tus_upload(client, os.urandom(CHUNK_SIZE + 3), "a"), tus_upload(client, b"b", "b")]
    kept = [dict(u, entry=dict(u["entry"])) for u in uploads]
    spoil(client, uploads)
    before = snapshot(storage_dir)
    assert error(join(client, uploads)) == expected
    assert snapshot(storage_dir) == before
    assert retrieve(client, kept[0]["answer"]["token"]).status_code == 200
    assert join(client, kept).status_code == 201


def test_a_join_that_fails_after_taking_a_file_gives_it_back(client, storage_dir):
    uploads = [tus_upload(client, b"a"), tus_upload(client, b"b")]
    _deleted_by_its_owner(client, uploads)
    before = snapshot(storage_dir)
    assert error(join(client, uploads)) == (404, "not_found")
    assert snapshot(storage_dir) == before
    assert retrieve(client, uploads[0]["answer"]["token"]).data == b"a"


@pytest.mark.parametrize("body,content_type,expected", [
    (b"{not json", "application/json", (400, "bad_request")),
    (b"[]", "application/json", (400, "bad_request")),
    (b'{"uploads": "x"}', "application/json", (400, "bad_request")),
    (b'{"uploads": [1, 2]}', "application/json", (400, "bad_request")),
    (b"[" * 5000 + b"]" * 5000, "application/json", (400, "bad_request")),
    (b"uploads=x", "application/x-www-form-urlencoded", (415, "unsupported_media_type")),
    (b'{"uploads": [' + b'{"id": "x", "secret": "y"},' * 1100 + b"{}]}", "application/json", (413, "too_large")),
], ids=["malformed", "not an object", "uploads not a list", "entries not objects", "nested deeply", "a form",
        "more entries than any bundle"])
def test_a_malformed_body_is_a_json_error(client, storage_dir, body, content_type, expected):
    uploads = [tus_upload(client, b"a"), tus_upload(client, b"b")]
    before = snapshot(storage_dir)
    assert error(client.post("/api/bundles", data=body, content_type=content_type)) == expected
    assert snapshot(storage_dir) == before
    assert join(client, uploads).status_code == 201


@pytest.mark.parametrize("options", [{"max_downloads": "zero"}, {"expires_in": -1}, {"passphrase": ["x"]},
                                     {"bundle_name": "x" * 2000}])
def test_bad_options_are_400_and_change_nothing(client, storage_dir, options):
    uploads = [tus_upload(client, b"a"), tus_upload(client, b"b")]
    before = snapshot(storage_dir)
    assert error(join(client, uploads, **options)) == (400, "bad_request")
    assert snapshot(storage_dir) == before


def test_the_upload_password_and_the_upload_rate_limit_apply(app_config):
    client = create_app({**app_config, "UPLOAD_PASSWORD": "open sesame", "RATE_LIMIT_UPLOADS": "3/minute",
                         "RATE_LIMIT_UPLOAD_PASSWORD": "0"}).test_client()
    auth = {"Authorization": "Bearer open sesame"}
    uploads = []
    for data in (b"a", b"b"):
        secret = new_secret()
        created = client.post("/api/uploads", data=data, headers={**TUS, **auth, "Upload-Secret": secret,
                              "Upload-Length": "1", "Content-Type": "application/offset+octet-stream"})
        uploads.append({"id": created.headers["Location"].rpartition("/")[2], "secret": secret})
    assert error(client.post("/api/bundles", json={"uploads": uploads})) == (401, "unauthorized")
    assert error(client.post("/api/bundles", json={"uploads": uploads}, headers=auth)) == (429, "rate_limited")


# -- bundle members: uploads that declare themselves a bundle's file ------------------------------------

TTL = 600  # UPLOAD_SESSION_TTL of the member tests


@pytest.fixture
def member_app(app_config):
    return create_app({**app_config, "MAX_BUNDLE_FILES": "4", "MAX_UPLOAD_BYTES": str(MAX_BYTES),
                       "RATE_LIMIT_UPLOADS": "0", "UPLOAD_SESSION_TTL": str(TTL)})


def member_upload(client, data: bytes, name: str = "m.bin", finish: bool = True) -> dict:
    return tus_upload(client, data, name, finish, member=True)


def assert_member_answer(body: dict, name: str, size: int) -> None:
    assert body["kind"] == "member" and (body["name"], body["size"]) == (name, size), body
    assert set(body) == {"kind", "name", "size", "expires_at"}  # no token, no owner token


def test_a_member_upload_finishes_and_answers_without_tokens(member_app):
    client = member_app.test_client()
    whole = member_upload(client, b"in one request", "one.txt")
    assert_member_answer(whole["answer"], "one.txt", 14)
    data = os.urandom(CHUNK_SIZE + 10)
    patched = member_upload(client, data, "two.bin", finish=False)
    location, secret = f"/api/uploads/{patched['entry']['id']}", patched["entry"]["secret"]
    finished = client.patch(location, data=data, headers={**TUS, "Upload-Secret": secret, "Upload-Offset": "0",
                                                          "Content-Type": "application/offset+octet-stream"})
    assert finished.status_code == 200
    assert_member_answer(finished.json, "two.bin", len(data))
    again = client.get(location, headers={**TUS, "Upload-Secret": secret})
    assert again.status_code == 200 and again.json == finished.json
    assert client.head(location, headers={**TUS, "Upload-Secret": secret}).headers["Upload-Offset"] == str(len(data))


def test_a_member_file_opens_through_no_token_even_one_made_with_its_key(member_app, storage_dir):
    client, uploads = member_app.test_client(), member_app.extensions["anon_hosting.uploads"]
    upload = member_upload(client, b"only through a bundle")
    upload_id, secret = upload["entry"]["id"], base64.urlsafe_b64decode(upload["entry"]["secret"] + "=")
    assert local_state(storage_dir, upload_id)["member"] == "pending"
    key, keyring = uploads.finished(upload_id, secret).key, member_app.extensions["anon_hosting"].keyring
    now = int(time.time())
    crafted = tokens.issue(tokens.FileClaims("m.bin", upload_id, key, now, now + 3600, None), keyring)
    owner = tokens.issue(tokens.OwnerClaims(upload_id, now, now + 3600), keyring)
    assert error(client.post("/api/files/info", json={"token": crafted})) == (404, "not_found")
    assert error(retrieve(client, crafted)) == (404, "not_found")
    assert error(client.post("/api/files/delete", json={"token": owner})) == (404, "not_found")
    assert f"{upload_id}.state" in local_entries(storage_dir)  # the refused delete left it


def test_an_unjoined_member_is_swept_after_the_session_ttl_and_a_joined_one_is_not(member_app, storage_dir):
    client, service = member_app.test_client(), member_app.extensions["anon_hosting"]
    left = member_upload(client, b"never joined")
    joined = [member_upload(client, d) for d in (b"kept 1", b"kept 2")]
    bundle = join(client, joined, expires_in=3 * TTL)
    assert bundle.status_code == 201, bundle.json
    state = local_state(storage_dir, left["entry"]["id"])
    assert time.time() + TTL - 5 < state["exp"] <= time.time() + TTL
    assert service.sweep(now=time.time() + 2 * TTL) >= 2  # the file and its record
    assert not any(n.startswith(left["entry"]["id"]) for n in stored(storage_dir))
    assert [retrieve(client, bundle.json["token"], i).data for i in (0, 1)] == [b"kept 1", b"kept 2"]
    assert error(join(client, [left, member_upload(client, b"x")])) == (404, "not_found")


def test_members_join_with_plain_uploads_and_the_join_counts_once(app_config, storage_dir):
    client = create_app({**app_config, "RATE_LIMIT_UPLOADS": "1/minute"}).test_client()
    uploads = [member_upload(client, f"file {n}".encode(), f"{n}.txt") for n in range(5)]
    answer = join(client, uploads, bundle_name="Five")
    assert answer.status_code == 201, answer.json  # five creations, then the address's one upload
    assert [f["name"] for f in answer.json["files"]] == [f"{n}.txt" for n in range(5)]
    assert [retrieve(client, answer.json["token"], n).data for n in range(5)] == [f"file {n}".encode()
                                                                                 for n in range(5)]
    assert {local_state(storage_dir, u["entry"]["id"])["member"] for u in uploads} == {True}
    assert error(join(client, [member_upload(client, b"a"), member_upload(client, b"b")])) == (429, "rate_limited")
    assert error(client.post("/api/uploads", headers={**TUS, "Upload-Secret": new_secret(), "Upload-Length": "1"})) \
        == (429, "rate_limited")


def test_a_join_may_mix_members_and_plain_uploads(client):
    uploads = [member_upload(client, b"member"), tus_upload(client, b"plain")]
    bundle = join(client, uploads)
    assert bundle.status_code == 201, bundle.json
    assert [retrieve(client, bundle.json["token"], i).data for i in (0, 1)] == [b"member", b"plain"]


def test_a_delete_of_a_finished_member_takes_its_file(member_app, storage_dir):
    client = member_app.test_client()
    given_up, other = member_upload(client, b"given up"), member_upload(client, b"other")
    tus = {**TUS, "Upload-Secret": given_up["entry"]["secret"]}
    assert client.delete(f"/api/uploads/{given_up['entry']['id']}", headers=tus).status_code == 204
    assert not any(n.startswith(given_up["entry"]["id"]) for n in stored(storage_dir))
    assert error(join(client, [given_up, other])) == (404, "not_found")


def test_a_delete_after_a_join_took_the_file_leaves_it_to_the_bundle(member_app, storage_dir):
    """The join makes the file a member before it drops the record: a delete in between keeps the file."""
    client, uploads = member_app.test_client(), member_app.extensions["anon_hosting.uploads"]
    storage = member_app.extensions["anon_hosting"].storage
    upload = member_upload(client, b"joined")
    upload_id, now = upload["entry"]["id"], int(time.time())
    storage.update_state(upload_id, lambda s: lifecycle.enlist(s, now + 3600, now))  # the join's first step
    uploads.terminate(upload_id, base64.urlsafe_b64decode(upload["entry"]["secret"] + "="))
    assert local_state(storage_dir, upload_id)["member"] is True
    assert storage.read_state(upload_id)["exp"] == now + 3600
