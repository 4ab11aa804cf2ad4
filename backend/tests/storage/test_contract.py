"""The storage contract (storage/__init__.py), run against every backend: a local folder and an S3 bucket.

Each test gets an empty store (``store`` fixture, see conftest.py); the S3 one
talks HTTP to a real S3-compatible server process. Part boundaries of the S3
backend are S3's 5 MiB minimum here, so the sizes below cross them.
"""

import multiprocessing
import os
import secrets
import threading
import time

import pytest

from anon_hosting.errors import NotFound, StorageUnavailable
from anon_hosting.keys import KeyRing
from anon_hosting.results import Limits
from anon_hosting.service import FileService
from anon_hosting.storage.s3 import MIN_PART_SIZE, S3Storage

from .stores import STATE, entries, files, has_blob, read_all, reopen, unfinished

PART = MIN_PART_SIZE
PIECE = 1_000_003  # chunks that never line up with a part


def name() -> str:
    return secrets.token_urlsafe(32)


def pieces(data: bytes, size: int = PIECE):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("size", [0, 1, 6, PART - 1, PART, PART + 1, 2 * PART + 12345])
def test_put_then_open_round_trips(store, size):
    n, data = name(), os.urandom(size)
    assert store.put(n, pieces(data), STATE) == size
    blob = store.open(n)
    assert blob.size == size
    assert read_all(blob) == data
    assert store.read_state(n) == STATE
    assert entries(store) == files(n) and unfinished(store) == []


@pytest.mark.parametrize("fail_after", [1000, PART + 1000, 2 * PART])
@pytest.mark.parametrize("error", [ConnectionError, GeneratorExit])
def test_a_failing_source_leaves_nothing(store, fail_after, error):
    def source():
        yield from pieces(os.urandom(fail_after))
        raise error("client went away")

    with pytest.raises(error):
        store.put(name(), source(), STATE)
    assert entries(store) == []
    assert unfinished(store) == []


@pytest.mark.parametrize("size", [10, 2 * PART + 10])
def test_nothing_is_visible_until_put_returns(store, size):
    n, seen = name(), []

    def source():
        yield from pieces(b"x" * size)
        seen.append(has_blob(store, n))
        with pytest.raises(NotFound):
            store.open(n)
        yield b"last"

    store.put(n, source(), STATE)
    assert seen == [False]
    assert has_blob(store, n)


def test_put_never_overwrites(store):
    n = name()
    store.put(n, [b"original"], STATE)
    for replacement in ([b"replacement"], pieces(b"r" * (PART + 1))):
        with pytest.raises(FileExistsError):
            store.put(n, replacement, {"v": 1, "exp": 1})
    assert read_all(store.open(n)) == b"original"
    assert store.read_state(n) == STATE
    assert entries(store) == files(n) and unfinished(store) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a" * 42, "a" * 44, ".tmp-" + "a" * 38, "", "a/" + "b" * 41])
def test_names_outside_the_pattern_never_reach_the_storage(store, bad):
    calls = (store.open, store.delete, store.read_state, store.delete_blob,
             lambda n: store.put(n, [b"x"], STATE), lambda n: store.update_state(n, dict))
    for call in calls:
        with pytest.raises(ValueError):
            call(bad)
    assert entries(store) == []


def test_missing_files_are_not_found(store):
    n = name()
    for call in (store.open, store.read_state, lambda n: store.update_state(n, dict)):
        with pytest.raises(NotFound):
            call(n)
    assert (has_blob(store, n), store.delete(n), store.delete_blob(n)) == (False, False, False)


def test_delete_removes_state_and_blob_and_delete_blob_keeps_the_state(store):
    a, b = name(), name()
    store.put(a, [b"x"], STATE)
    store.put(b, [b"y"], STATE)
    assert store.delete_blob(b) is True
    assert store.read_state(b) == STATE and not has_blob(store, b)
    assert sorted(store.names()) == sorted([a, b])
    assert store.delete(a) is True
    with pytest.raises(NotFound):
        store.read_state(a)
    with pytest.raises(NotFound):
        store.update_state(a, lambda s: s)
    assert list(store.names()) == [b]
    assert entries(store) == [b + ".state"]


def test_a_failing_update_writes_nothing(store):
    n = name()
    store.put(n, [b"x"], STATE)

    def refuse(state):
        raise RuntimeError("rule says no")

    with pytest.raises(RuntimeError):
        store.update_state(n, refuse)
    assert store.read_state(n) == STATE
    assert entries(store) == files(n) and unfinished(store) == []


def _increment(store, n, times, applied) -> None:
    """Add 1 to the state's count ``times`` times; ``applied`` counts the updates that returned.

    A backend may refuse an update it could not apply after its retries (S3 answers "busy" after
    UPDATE_TRIES lost races, as a 503): atomic means every update that returned was applied once,
    and no refused one was applied.
    """
    store = reopen(store)
    for _ in range(times):
        try:
            store.update_state(n, lambda s: {**s, "count": s.get("count", 0) + 1})
        except StorageUnavailable:
            continue
        with applied.get_lock():
            applied.value += 1


def _require_atomic_writes(store):
    if isinstance(store, S3Storage) and not store.server.atomic:
        pytest.skip("this S3 server does not check conditional writes atomically (moto)")


def test_state_updates_are_atomic_across_processes(store):
    _require_atomic_writes(store)
    n, context = name(), multiprocessing.get_context("fork")
    store.put(n, [b"x"], STATE)
    applied = context.Value("i", 0)
    processes = [context.Process(target=_increment, args=(store, n, 25, applied)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    assert store.read_state(n).get("count", 0) == applied.value > 50


def test_state_updates_are_atomic_across_threads(store):
    _require_atomic_writes(store)
    n = name()
    store.put(n, [b"x"], STATE)
    applied = multiprocessing.Value("i", 0)
    threads = [threading.Thread(target=_increment, args=(store, n, 10, applied)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert store.read_state(n).get("count", 0) == applied.value > 40


def test_ping_leaves_nothing(store):
    store.ping()
    assert entries(store) == []


def test_the_service_sweeper_deletes_expired_files_and_spent_tombstones(store, tmp_path):
    service = FileService(store, KeyRing(tmp_path / "private", "k" * 40), Limits(10 * PART, 3600, 86400))
    now = 1_900_000_000

    def upload(**options) -> str:
        before = set(store.names())
        service.upload("f.bin", [b"data"], lambda: {k: str(v) for k, v in options.items()}, now=now)
        return (set(store.names()) - before).pop()

    short, keeper = upload(expires_in=60), upload(expires_in=7200)
    once = upload(expires_in=3600, max_downloads=1)
    token = service.upload("g.bin", [b"more"], lambda: {"max_downloads": "1"}, now=now).token
    spent = (set(store.names()) - {short, keeper, once}).pop()
    download = service.retrieve(token, now=now + 1)
    assert b"".join(download.chunks) == b"more"
    download.close()
    assert not has_blob(store, spent) and store.read_state(spent)["gone"]

    assert service.sweep(now=now + 120) == 1  # short expired; the tombstone of spent waits for its expiry
    assert sorted(store.names()) == sorted([keeper, once, spent])
    assert service.sweep(now=now + 4000) == 2  # once and the tombstone of spent
    assert entries(store) == files(keeper)


def test_expired_yields_what_a_sweep_must_look_at_and_nothing_live(store):
    now = 1_900_000_000
    live, old, spent, spent_tombstone = name(), name(), name(), name()
    store.put(live, [b"x"], {"v": 1, "exp": now + 3600})
    store.put(old, [b"x"], {"v": 1, "exp": now - 10})
    store.put(spent, [b"x"], {"v": 1, "exp": now + 3600, "gone": "download_limit_reached"})  # blob still there
    store.put(spent_tombstone, [b"x"], {"v": 1, "exp": now + 3600, "gone": "download_limit_reached"})
    store.delete_blob(spent_tombstone)
    found = set()
    for n in store.expired(now):  # as the sweeper does: each one handled before the next is asked for
        found.add(n)
        if n == old:
            store.delete(n)
    assert old in found and live not in found and spent_tombstone not in found
    # The local index also finds a used-up file still holding its blob; S3 leaves that to its full sweeps.
    assert spent in found or isinstance(store, S3Storage)
    assert set(store.expired(now)) <= {spent}  # the deleted file is not yielded again


def test_expired_follows_an_expiry_that_update_state_moved(store):
    now = 1_900_000_000
    sooner, later = name(), name()
    for n in (sooner, later):
        store.put(n, [b"x"], {"v": 1, "exp": now + 7200})
    store.update_state(sooner, lambda s: {**s, "exp": now - 10})
    store.update_state(later, lambda s: {**s, "exp": now + 3 * 86400})
    assert set(store.expired(now)) == {sooner}
    assert later not in set(store.expired(now + 7300))  # its first expiry has passed, the moved one has not
    assert later in set(store.expired(now + 3 * 86400 + 1))


def test_a_regular_sweep_leaves_live_files_and_a_full_one_reconciles(store, tmp_path):
    service = FileService(store, KeyRing(tmp_path / "private", "k" * 40), Limits(10 * PART, 3600, 86400))
    now = 1_900_000_000
    live = [service.upload("f.bin", [b"data"], dict, now=now) for _ in range(3)]
    assert service.sweep(now=now + 60) == 0
    assert len(list(store.names())) == 3
    assert service.sweep(now=now + 60, full=True) == 0
    assert service.sweep(now=now + 3601) == 3
    assert entries(store) == [] and live


def test_put_many_stores_each_blob_as_put_would(store):
    items = [(name(), os.urandom(size), {**STATE, "i": i}) for i, size in enumerate([0, 1, 4096, 70_000, 200_000])]
    store.put_many(items)
    for n, data, state in items:
        assert read_all(store.open(n)) == data
        assert store.read_state(n) == state
    assert entries(store) == files(*(n for n, _, _ in items))


def test_put_many_never_overwrites(store):
    taken = name()
    store.put(taken, [b"first"], STATE)
    with pytest.raises(FileExistsError):
        store.put_many([(name(), b"x", STATE), (taken, b"second", STATE)])
    assert read_all(store.open(taken)) == b"first"


def test_each_answers_in_order_and_raises_the_first_error_once_no_call_runs(store):
    assert store.each(lambda n: n * 2, range(20)) == list(range(0, 40, 2))
    ended, lock = [], threading.Lock()

    def call(n: int) -> int:
        time.sleep(0.01 * (n % 3))
        with lock:
            ended.append(n)
        if n in (3, 11):
            raise ValueError(n)
        return n

    with pytest.raises(ValueError, match="^3$"):
        store.each(call, range(20))
    at_the_raise = sorted(ended)
    time.sleep(0.2)
    assert 3 in at_the_raise and sorted(ended) == at_the_raise  # none still running when it raised
