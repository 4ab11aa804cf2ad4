"""``ResumableUploads`` on both stores: a finish cut by a killed process at each step after the last chunk.

``Killed`` stands for SIGKILL: it is raised from a hook placed where no clean-up handler of ours
runs above it, and the next "process" is a fresh store and service on the same data. The cuts:
the blob given its name but not its state (local: a hard link without an index row; S3: the
state created, the multipart upload not completed), the blob stored but the upload's data left,
and the blob stored and the data gone but the record not marked. A sweep in that window removes
nothing; then the upload answers as finished (or, when the file was not stored yet, takes its last
chunk again) and the download equals the upload.
"""

import os

import pytest

from anon_hosting.crypto.stream import CHUNK_SIZE
from anon_hosting.errors import Conflict, NotFound
from anon_hosting.keys import KeyRing
from anon_hosting.results import Limits
from anon_hosting.resumable import ResumableUploads
from anon_hosting.service import FileService
from anon_hosting.storage import partials_for
from anon_hosting.storage.local import LocalStorage
from anon_hosting.storage.s3 import STATE_SUFFIX

from .storage.conftest import s3_bucket, s3_store  # noqa: F401 - the S3 store on the session's server
from .storage.stores import has_blob, reopen

MIB = 1 << 20
SIZE = 2 * CHUNK_SIZE + 500
LAST = (SIZE - 1) // CHUNK_SIZE * CHUNK_SIZE  # the offset before the last chunk
TTL = 3600


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return request.getfixturevalue("s3_store")


class Killed(BaseException):
    """The process dies here."""


def uploads_on(store, tmp_path) -> ResumableUploads:
    files = FileService(store, KeyRing(tmp_path / "private", "k" * 40), Limits(64 * MIB, 3600, 86400))
    return ResumableUploads(files, partials_for(store), TTL)


def kill_after_naming(monkeypatch, uploads: ResumableUploads) -> None:
    store = uploads.files.storage
    if isinstance(store, LocalStorage):
        link = store._files.link

        def linked(*args):
            link(*args)
            raise Killed()
        monkeypatch.setattr(store._files, "link", linked)
    else:
        create = store._create

        def created(key, body):
            create(key, body)
            if key.endswith(STATE_SUFFIX):
                raise Killed()
        monkeypatch.setattr(store, "_create", created)


def kill_before_discarding(monkeypatch, uploads: ResumableUploads) -> None:
    def discard(upload_id):
        raise Killed()
    monkeypatch.setattr(uploads.partials, "discard", discard)


def kill_before_marking(monkeypatch, uploads: ResumableUploads) -> None:
    save = uploads.partials.save

    def saved(upload_id, record):
        if record["done"] is not None:
            raise Killed()
        save(upload_id, record)
    monkeypatch.setattr(uploads.partials, "save", saved)


CUTS = {"naming": kill_after_naming, "discarding": kill_before_discarding, "marking": kill_before_marking}


def cut_upload(monkeypatch, store, tmp_path, cut: str, member: bool = False) -> tuple[str, bytes, bytes]:
    """An upload (a bundle member's with ``member``) whose finishing PATCH was cut by ``cut``: (id, secret, data)."""
    uploads, secret, data = uploads_on(store, tmp_path), os.urandom(32), os.urandom(SIZE)
    meta = {"filename": "cut.bin", "max_downloads": "2", **({"bundle": ""} if member else {})}
    upload_id = uploads.create(secret, SIZE, meta).upload_id
    assert uploads.append(upload_id, secret, 0, [data[:LAST]]).offset == LAST
    with monkeypatch.context() as patched:
        CUTS[cut](patched, uploads)
        with pytest.raises(Killed):
            uploads.append(upload_id, secret, LAST, [data[LAST:]])
    assert uploads.partials.record(upload_id)["done"] is None
    return upload_id, secret, data


@pytest.mark.parametrize("cut", CUTS)
def test_a_finish_killed_after_the_last_chunk_is_taken_up_by_the_next_process(monkeypatch, store, tmp_path, cut):
    upload_id, secret, data = cut_upload(monkeypatch, store, tmp_path, cut)
    again = uploads_on(reopen(store), tmp_path)
    assert again.files.sweep(full=True) == 0  # nothing of it goes while its record lives
    with pytest.raises(NotFound):  # a wrong secret learns nothing and marks nothing
        again.offset(upload_id, os.urandom(32))
    assert again.partials.record(upload_id)["done"] is None

    if cut == "naming":  # not stored yet: the last chunk comes again
        assert again.offset(upload_id, secret).offset == LAST
        finished = again.append(upload_id, secret, LAST, [data[LAST:]])
    else:  # stored: finished, as an upload whose answer was lost
        assert again.offset(upload_id, secret).offset == SIZE
        with pytest.raises(Conflict):
            again.append(upload_id, secret, LAST, [data[LAST:]])
        finished = again.append(upload_id, secret, SIZE, [])
    assert (finished.offset, finished.result.name, finished.result.max_downloads) == (SIZE, "cut.bin", 2)
    assert again.result(upload_id, secret).name == "cut.bin"
    download = again.files.retrieve(finished.result.token)
    assert b"".join(download.chunks) == data
    download.close()
    assert not data_left(again, upload_id)


@pytest.mark.parametrize("cut", ["discarding", "marking"])
def test_a_members_finish_killed_after_storing_is_marked_with_the_files_own_expiry(monkeypatch, store, tmp_path, cut):
    upload_id, secret, data = cut_upload(monkeypatch, store, tmp_path, cut, member=True)
    again = uploads_on(reopen(store), tmp_path)
    finished = again.append(upload_id, secret, SIZE, [])
    assert (finished.result.kind, finished.result.name, finished.result.size) == ("member", "cut.bin", SIZE)
    state = again.files.storage.read_state(upload_id)
    assert state["member"] == "pending" and again.partials.record(upload_id)["exp"] == state["exp"]


@pytest.mark.parametrize("cut", ["discarding", "marking"])
def test_the_sweeper_deletes_a_stored_file_whose_record_expired_unmarked(monkeypatch, store, tmp_path, cut):
    upload_id, secret, _ = cut_upload(monkeypatch, store, tmp_path, cut)
    again = uploads_on(reopen(store), tmp_path)
    expiry = again.partials.record(upload_id)["exp"]
    assert again.sweep(now=expiry - 1) == 0 and has_blob(store, upload_id)
    assert again.sweep(now=expiry) == 2  # the record, then the file that no token will ever name
    assert not has_blob(store, upload_id) and list(store.names()) == []
    with pytest.raises(NotFound):
        again.offset(upload_id, secret)


def data_left(uploads: ResumableUploads, upload_id: str) -> bool:
    store = uploads.files.storage
    if isinstance(store, LocalStorage):
        return (store.root / ".uploads" / f"{upload_id}.part").exists()
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}uploads/{upload_id}.tail")
    return bool(listed.get("Contents"))
