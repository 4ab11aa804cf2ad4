"""S3 storage only: multipart streaming, key layout, the multipart sweeper, error mapping, the app on S3.

The contract shared with the local backend is in test_contract.py. Everything
here talks HTTP to the session's S3-compatible server (tests/s3server.py).
"""

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from anon_hosting import create_app
from anon_hosting.errors import InsufficientStorage, NotFound, StorageUnavailable
from anon_hosting.storage import s3
from anon_hosting.storage.s3 import MIN_PART_SIZE, TEMP_MAX_IDLE, S3Storage

from .stores import STATE, entries, files, read_all, unfinished

PART = MIN_PART_SIZE


def name() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def store(s3_store):
    return s3_store


def test_full_parts_leave_during_the_upload_and_small_files_need_none(store):
    big, small, seen = name(), name(), {}

    def source(n, size):
        yield b"a" * size
        seen[n] = [(u["Key"], _part_sizes(store, u)) for u in _uploads(store)]
        yield b"end"

    store.put(big, source(big, 2 * PART + 7), STATE)
    store.put(small, source(small, PART - 10), STATE)
    assert seen == {big: [(store.prefix + big, [PART, PART])], small: []}
    assert read_all(store.open(big)) == b"a" * (2 * PART + 7) + b"end"
    assert unfinished(store) == []


def test_keys_are_prefix_name_and_prefix_name_state_with_plain_json(store):
    n = name()
    store.put(n, [b"x"], {"v": 1, "exp": 5, "max": None})
    assert entries(store) == files(n)
    body = store.client.get_object(Bucket=store.bucket, Key=f"{store.prefix}{n}.state")["Body"].read()
    assert body == b'{"exp":5,"max":null,"v":1}'


def test_names_lists_every_state_across_pages_and_ignores_other_keys(store, monkeypatch):
    monkeypatch.setattr(s3, "LIST_PAGE_SIZE", 7)
    many = sorted(name() for _ in range(23))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}{n}.state",
                                                        Body=json.dumps(STATE).encode()), many))
    for key in ("notaname.state", f"sub/{many[0]}.state", ".ping-x", many[0]):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key, Body=b"{}")
    store.client.put_object(Bucket=store.bucket, Key=f"{many[1]}.state", Body=b"{}")  # outside the prefix
    assert sorted(store.names()) == many


def test_sweep_aborts_only_abandoned_uploads_of_our_blobs(store):
    dead, foreign = store.prefix + name(), store.prefix + "someone-elses-upload"
    for key in (dead, foreign):
        upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)
        store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1,
                                 Body=b"left by a killed writer")
    assert store.sweep_temp() == 0  # a fresh upload may be a live one
    assert sorted(unfinished(store)) == sorted([dead, foreign])
    assert store.sweep_temp(now=time.time() + TEMP_MAX_IDLE + 60) == 1
    assert unfinished(store) == [foreign]
    assert entries(store) == []


def test_the_startup_sweep_of_the_app_spares_live_uploads(store):
    n, started = name(), []

    def source():
        yield b"x" * (PART + 1)
        started.append(store.sweep_temp())
        yield b"y"

    store.put(n, source(), STATE)
    assert started == [0]
    assert read_all(store.open(n)) == b"x" * (PART + 1) + b"y"


@pytest.mark.parametrize("code, status", [("XMinioStorageFull", 507), ("QuotaExceeded", 403),
                                          ("EntityTooLarge", 400), ("SomethingElse", 507)])
def test_a_full_bucket_is_insufficient_storage_and_leaves_nothing(store, code, status):
    def source():
        yield b"x" * (PART + 5)
        raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "UploadPart")

    with pytest.raises(InsufficientStorage):
        store.put(name(), source(), STATE)
    assert entries(store) == [] and unfinished(store) == []


def test_other_s3_errors_are_re_raised(store):
    def source():
        yield b"x"
        raise ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")

    with pytest.raises(ClientError):
        store.put(name(), source(), STATE)
    assert entries(store) == []


def test_an_update_racing_a_delete_never_brings_the_state_back(store):
    n = name()
    store.put(n, [b"x"], STATE)

    def delete_meanwhile(state):
        store.client.delete_object(Bucket=store.bucket, Key=f"{store.prefix}{n}.state")
        return {**state, "done": 1}

    with pytest.raises(NotFound):
        store.update_state(n, delete_meanwhile)
    with pytest.raises(NotFound):
        store.read_state(n)


def test_ping_fails_without_a_writable_bucket(s3_server):
    with pytest.raises(StorageUnavailable):
        S3Storage("no-such-bucket-here", client=s3_server.client()).ping()


def test_part_size_below_the_s3_minimum_is_refused(s3_server):
    with pytest.raises(ValueError):
        S3Storage("b", part_size=PART - 1, client=s3_server.client())


def test_the_app_runs_on_s3_when_configured(s3_server, s3_bucket, tmp_path, monkeypatch):
    env = s3_server.env(s3_bucket, prefix=f"app-{secrets.token_hex(4)}/")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
                "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(var, env.pop(var))
    app = create_app({"SECRET_KEY": "s" * 40, "ENCRYPTED_FILE_STORAGE": str(tmp_path / "unused"),
                      "PRIVATE_FOLDER": str(tmp_path / "private"), **env})
    store = app.extensions["anon_hosting"].storage
    assert isinstance(store, S3Storage) and (store.bucket, store.prefix) == (s3_bucket, env["S3_PREFIX"])
    client = app.test_client()
    answer = client.post("/api/files", data=b"hello s3", headers={"Content-Type": "application/octet-stream",
                                                                  "X-File-Name": "a.txt"}).get_json()
    assert client.post("/api/files/retrieve", json={"token": answer["token"]}).data == b"hello s3"
    assert len(list(store.names())) == 1
    assert not (tmp_path / "unused").exists()


def _uploads(store) -> list[dict]:
    return store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix).get("Uploads", [])


def _part_sizes(store, upload) -> list[int]:
    parts = store.client.list_parts(Bucket=store.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return [p["Size"] for p in parts.get("Parts", [])]
