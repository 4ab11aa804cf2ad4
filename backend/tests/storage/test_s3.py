"""S3 storage only: multipart streaming, key layout, the multipart sweeper, error mapping, the app on S3.

The contract shared with the local backend is in test_contract.py. Everything
here talks HTTP to the session's S3-compatible server (tests/s3server.py).
"""

import json
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from anon_hosting import create_app
from anon_hosting.bundle_join import BundleJoin, Entry
from anon_hosting.errors import InsufficientStorage, NotFound, StorageUnavailable
from anon_hosting.keys import KeyRing
from anon_hosting.results import Limits
from anon_hosting.resumable import ResumableUploads
from anon_hosting.service import FileService
from anon_hosting.storage import partials_for, s3
from anon_hosting.storage.s3 import MIN_PART_SIZE, TEMP_MAX_IDLE, S3Storage
from anon_hosting.storage.s3_parts import IN_FLIGHT

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

    store.put(big, source(big, (IN_FLIGHT + 1) * PART + 7), STATE)
    store.put(small, source(small, PART - 10), STATE)
    assert seen[small] == [] and [key for key, _ in seen[big]] == [store.prefix + big]
    sent = seen[big][0][1]  # at most IN_FLIGHT parts may still be on their way
    assert sent == [PART] * len(sent) and len(sent) >= 1, sent
    assert read_all(store.open(big)) == b"a" * ((IN_FLIGHT + 1) * PART + 7) + b"end"
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


# -- S3 requests per operation: counted through boto3's event system -------------------------


def test_each_runs_its_calls_at_once(store):
    meet = threading.Barrier(4, timeout=10)  # four calls that each wait for the others: one at a time would break it
    assert store.each(lambda n: (meet.wait(), n)[1], range(8)) == list(range(8))


def test_put_many_sends_its_files_at_once_and_ends_with_all_of_them(store):
    # The first PUT waits for a second one to start: one put after another would wait here in vain.
    started, overlapped, lock, calls = threading.Semaphore(0), [], threading.Lock(), []

    def hold_the_first(**_):
        with lock:
            calls.append(None)
            first = len(calls) == 1
        if first:
            overlapped.append(started.acquire(timeout=10))
        else:
            started.release()

    items = [(name(), bytes([i]) * 100, STATE) for i in range(12)]
    store.client.meta.events.register("before-send.s3.PutObject", hold_the_first)
    try:
        store.put_many(items)
    finally:
        store.client.meta.events.unregister("before-send.s3.PutObject", hold_the_first)
    assert overlapped == [True]
    assert all(read_all(store.open(n)) == blob for n, blob, _ in items)


def test_put_many_raises_only_once_every_put_has_ended(store):
    # The other files' PUTs are held back a while: a put_many that raised at once would see them land after.
    taken, raised = name(), threading.Event()
    store.put(taken, [b"first"], STATE)
    items = [(taken, b"second", STATE)] + [(name(), b"x" * 100, STATE) for _ in range(11)]

    def hold_the_others(request, **_):
        if taken not in request.url:
            raised.wait(timeout=0.5)

    store.client.meta.events.register("before-send.s3.PutObject", hold_the_others)
    try:
        with pytest.raises(FileExistsError):
            store.put_many(items)
        at_the_raise = entries(store)
        raised.set()
        time.sleep(0.5)
    finally:
        store.client.meta.events.unregister("before-send.s3.PutObject", hold_the_others)
    assert entries(store) == at_the_raise  # nothing landed after it, under the caller's clean-up
    for n, _, _ in items[1:]:
        store.delete(n)
    assert entries(store) == files(taken) and read_all(store.open(taken)) == b"first"

class Requests:
    """The S3 API calls a client makes, by operation, counted while the ``with`` block runs."""

    def __init__(self, client):
        self.client, self.calls = client, Counter()

    def _count(self, model, **_):
        self.calls[model.name] += 1

    def __enter__(self):
        self.client.meta.events.register("before-call.s3", self._count)
        return self

    def __exit__(self, *_):
        self.client.meta.events.unregister("before-call.s3", self._count)

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def _service(store, tmp_path):
    return FileService(store, KeyRing(tmp_path / "private", "k" * 40), Limits(4 * PART, 3600, 86400 * 30))


def test_a_regular_sweep_costs_what_expired_not_what_is_stored(store, tmp_path):
    service, now = _service(store, tmp_path), time.time()
    for _ in range(40):
        service.upload("live.bin", [b"x"], lambda: {"expires_in": "86400"}, now=now)
    with Requests(store.client) as none_expired:
        assert service.sweep(now=now) == 0
    assert none_expired.total <= 2, none_expired.calls  # the hours' listing, whatever is stored
    for _ in range(10):
        service.upload("old.bin", [b"x"], lambda: {"expires_in": "60"}, now=now - 7200)
    with Requests(store.client) as ten_expired:
        assert service.sweep(now=now) == 10
    assert ten_expired.total <= 3 + 6 * 10, ten_expired.calls  # per expired file: state twice, 3 deletes
    assert len(list(store.names())) == 40
    with Requests(store.client) as again:
        assert service.sweep(now=now) == 0
    assert again.total <= 2, again.calls  # the expired hour's markers went with their files


def test_a_file_whose_marker_was_lost_is_removed_by_the_full_sweep(store, tmp_path):
    service, now = _service(store, tmp_path), time.time()
    service.upload("old.bin", [b"x"], lambda: {"expires_in": "60"}, now=now - 7200)
    markers = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + "expiry/")["Contents"]
    assert len(markers) == 1
    store.client.delete_object(Bucket=store.bucket, Key=markers[0]["Key"])
    assert service.sweep(now=now) == 0  # the regular sweep cannot see it
    assert service.sweep(now=now, full=True) == 1
    assert entries(store) == []


def test_a_deleted_files_marker_is_dropped_when_its_hour_comes(store, tmp_path):
    service, now = _service(store, tmp_path), time.time()
    answer = service.upload("gone.bin", [b"x"], lambda: {"expires_in": "3600"}, now=now - 7200)
    service.delete(answer.owner_token)
    assert service.sweep(now=now) == 0
    assert store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix + "expiry/")["KeyCount"] == 0


# The S3 requests of each operation, as published in docs/costs.md; a count that grows fails here.
REQUESTS = {"small upload": 3, "large upload (3 parts)": 7, "info": 2, "download": 2,
            "download with a limit": 8, "delete": 4, "resumable small upload (one request)": 13,
            "a bundle's join, per file": 9}


def test_the_requests_of_each_operation_do_not_grow(store, tmp_path):
    service, counts = _service(store, tmp_path), {}

    def count(label, call):
        with Requests(store.client) as requests_:
            result = call()
        counts[label] = requests_.total
        return result

    def download(token):
        result = service.retrieve(token)
        for _ in result.chunks:
            pass
        result.close()

    small = count("small upload", lambda: service.upload("s.bin", [b"x" * 100], dict))
    count("large upload (3 parts)", lambda: service.upload("l.bin", [b"y" * (2 * PART + 10)], dict))
    count("info", lambda: service.info(small.token))
    count("download", lambda: download(small.token))
    once = service.upload("o.bin", [b"z" * 100], lambda: {"max_downloads": "1"})
    count("download with a limit", lambda: download(once.token))
    count("delete", lambda: service.delete(small.owner_token))
    uploads = ResumableUploads(service, partials_for(store), 3600)

    def resumable(data: bytes, metadata: dict):
        secret = secrets.token_bytes(32)
        progress = uploads.create(secret, len(data), metadata)
        return progress.upload_id, secret, uploads.append(progress.upload_id, secret, 0, [data]).result

    count("resumable small upload (one request)", lambda: resumable(b"t" * 4096, {"filename": "t.bin"}))
    members = [resumable(b"m" * 4096, {"filename": f"{n}.bin", "bundle": ""})[:2] for n in range(10)]
    count("a bundle's join, per file", lambda: BundleJoin(service.bundles, uploads).join(
        [Entry(upload_id, secret) for upload_id, secret in members], {}))
    counts["a bundle's join, per file"] //= len(members)
    assert counts.keys() == REQUESTS.keys()
    assert all(counts[k] <= REQUESTS[k] for k in REQUESTS), str(counts)
