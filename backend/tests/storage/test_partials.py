"""The partial-upload stores on both backends: records, whole units, leases, finishing and dropping."""

import secrets

import pytest

from anon_hosting.errors import Locked, NotFound
from anon_hosting.storage import partials_for
from anon_hosting.storage.partial_s3 import UNITS_PER_PART
from anon_hosting.storage.partials import Layout

from .stores import entries, has_blob, read_all, reopen, require_page_cache, resident_pages, unfinished

UNIT = 1 << 20  # each unit stands for a sealed chunk; S3 needs its parts over 5 MiB
LAYOUT = Layout(header=38, unit=UNIT, max_units=3 * UNITS_PER_PART)
STATE = {"v": 1, "exp": 2_000_000_000}


def units(count: int, first: bool) -> list[bytes]:
    return [(b"H" * 38 if first and i == 0 else b"") + bytes([i % 251]) * UNIT for i in range(count)]


@pytest.fixture
def partials(store):
    return partials_for(store)


def new_id() -> str:
    return secrets.token_urlsafe(32)


def test_a_record_is_created_once_read_and_replaced(partials):
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5})
    with pytest.raises(FileExistsError):
        partials.create(upload, {"v": 1, "exp": 6})
    partials.save(upload, {**partials.record(upload), "exp": 7})
    assert partials.record(upload)["exp"] == 7 and upload in set(partials.ids())
    with pytest.raises(NotFound):
        partials.record(new_id())


def test_synced_units_are_committed_and_a_second_writer_is_locked_out(partials, store):
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5})
    with partials.writer(upload, LAYOUT) as writer:
        assert writer.committed == 0
        for unit in units(UNITS_PER_PART + 2, first=True):
            writer.append(unit)
        assert writer.sync() == UNITS_PER_PART + 2
        with pytest.raises(Locked), partials_for(reopen(store)).writer(upload, LAYOUT):
            pass
    assert partials_for(reopen(store)).committed(upload, LAYOUT) == UNITS_PER_PART + 2
    with partials_for(reopen(store)).writer(upload, LAYOUT) as again:  # another process or replica
        assert again.committed == UNITS_PER_PART + 2



def test_what_a_local_writer_synced_leaves_the_page_cache(partials, store):
    if not hasattr(store, "root"):
        pytest.skip("S3 parts are not files of this host")
    require_page_cache(store.root)
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5})
    with partials.writer(upload, LAYOUT) as writer:
        for unit in units(12, first=True):
            writer.append(unit)
        writer.sync()
    (part,) = (store.root / ".uploads").glob("*.part")
    assert part.stat().st_size > 12 * UNIT and resident_pages(part) == 0

def test_finish_makes_the_blob_a_file_and_drop_removes_the_rest(partials, store):
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5})
    data = units(UNITS_PER_PART + 1, first=True)
    with partials.writer(upload, LAYOUT) as writer:
        for unit in data:
            writer.append(unit)
        writer.sync()
    with partials.writer(upload, LAYOUT) as writer:  # resumed: the last bytes come with finish
        writer.finish(upload, STATE, b"last")
    assert has_blob(store, upload)
    assert read_all(store.open(upload)) == b"".join(data) + b"last"
    assert store.read_state(upload) == STATE
    assert partials.drop(upload) is True
    assert has_blob(store, upload)  # the file outlives its upload's record
    with pytest.raises(NotFound):
        partials.record(upload)


def test_dropping_an_unfinished_upload_leaves_nothing(partials, store):
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5})
    with partials.writer(upload, LAYOUT) as writer:
        for unit in units(UNITS_PER_PART + 1, first=True):
            writer.append(unit)
        writer.sync()
    assert partials.drop(upload) is True
    assert upload not in set(partials.ids())
    assert not has_blob(store, upload)
    assert unfinished(store) == []  # S3: the multipart upload is aborted
    assert [e for e in entries(store) if e != ".uploads"] == []  # local: the folder itself stays, empty
    assert not any((store.root / ".uploads").iterdir()) if hasattr(store, "root") else True
    assert partials.drop(upload) is False


def test_a_small_blob_is_put_whole_and_a_large_one_resumes_from_its_parts(partials, store):
    small, large, multipart = new_id(), new_id(), []
    if hasattr(store, "client"):  # S3: count the multipart uploads the small blob starts
        store.client.meta.events.register("before-call.s3.CreateMultipartUpload", lambda **_: multipart.append(1))
    partials.create(small, {"v": 1, "exp": 5})
    with partials.writer(small, LAYOUT) as writer:
        writer.finish(small, STATE, b"".join(units(2, first=True)))
    assert multipart == []
    assert read_all(store.open(small)) == b"".join(units(2, first=True)) and unfinished(store) == []
    partials.create(large, {"v": 1, "exp": 5})
    data = units(2 * UNITS_PER_PART + 1, first=True)
    with partials.writer(large, LAYOUT) as writer:  # a part, then a cut
        for unit in data[:UNITS_PER_PART + 1]:
            writer.append(unit)
        writer.sync()
    with partials_for(reopen(store)).writer(large, LAYOUT) as writer:  # another process finds that part
        assert writer.committed == UNITS_PER_PART + 1
        for unit in data[UNITS_PER_PART + 1:]:
            writer.append(unit)
        writer.finish(large, STATE, b"last")
    assert read_all(store.open(large)) == b"".join(data) + b"last" and unfinished(store) == []
    assert multipart == ([1] if hasattr(store, "client") else [])  # one, from its first part


def test_a_writer_whose_lease_was_taken_stores_nothing(partials, store):
    if hasattr(store, "root"):
        pytest.skip("a local lease is a lock that only the holder's end releases")
    for count in (2, UNITS_PER_PART + 1):  # the whole blob in one PUT; a part, then the rest
        upload = new_id()
        partials.create(upload, {"v": 1, "exp": 5})
        with partials.writer(upload, LAYOUT) as writer:
            for unit in units(count, first=True):
                writer.append(unit)
            # Another writer took the lease over (as after this one stalled past LEASE_TTL).
            store.client.put_object(Bucket=store.bucket, Key=partials._key(upload, "lease"), Body=b'{"until": 0}')
            with pytest.raises(Locked):
                writer.finish(upload, STATE, b"last")
        assert not has_blob(store, upload)


def test_a_record_read_before_the_first_part_and_saved_after_it_keeps_the_parts(partials, store):
    upload = new_id()
    partials.create(upload, {"v": 1, "exp": 5, "done": None})
    stale = partials.record(upload)  # as a request read it before another one's writer started
    with partials.writer(upload, LAYOUT) as writer:
        for unit in units(UNITS_PER_PART + 1, first=True):
            writer.append(unit)
        writer.sync()
        partials.save(upload, {**stale, "exp": 6})
    assert partials.record(upload)["exp"] == 6
    assert partials_for(reopen(store)).committed(upload, LAYOUT) == UNITS_PER_PART + 1
