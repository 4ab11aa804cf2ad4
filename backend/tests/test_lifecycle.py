"""The pure lifecycle rules: slots, completion, release, leases that expire, attempts."""

import pytest

from anon_hosting import lifecycle
from anon_hosting.errors import DownloadInProgress, DownloadLimitReached, Expired, RateLimited

NOW = 1_800_000_000


def state(max_downloads=1, **changes):
    return {**lifecycle.new(NOW + 3600, max_downloads), **changes}


def test_one_slot_is_reserved_then_others_wait():
    s = lifecycle.reserve(state(), "a", NOW)
    assert lifecycle.downloads_in_progress(s, NOW) == 1
    assert lifecycle.downloads_in_progress(s, NOW + lifecycle.LEASE_SECONDS) == 0, "a dead download's lease expires"
    with pytest.raises(DownloadInProgress):
        lifecycle.reserve(s, "b", NOW)


def test_completion_uses_the_slot_and_marks_the_file_gone():
    s = lifecycle.complete(lifecycle.reserve(state(), "a", NOW), "a")
    assert (s["done"], s["leases"], s["gone"]) == (1, {}, lifecycle.LIMIT_REACHED)
    assert lifecycle.downloads_left(s) == 0
    with pytest.raises(DownloadLimitReached):
        lifecycle.reserve(s, "b", NOW)


def test_release_frees_the_slot():
    s = lifecycle.release(lifecycle.reserve(state(), "a", NOW), "a")
    assert lifecycle.reserve(s, "b", NOW)["leases"] == {"b": NOW + lifecycle.LEASE_SECONDS}


def test_a_lease_of_a_dead_process_expires():
    s = lifecycle.reserve(state(), "a", NOW)
    later = NOW + lifecycle.LEASE_SECONDS + 1
    assert set(lifecycle.reserve(s, "b", later)["leases"]) == {"b"}


def test_renewal_keeps_a_long_download_alive():
    s = lifecycle.reserve(state(), "a", NOW)
    s = lifecycle.renew(s, "a", NOW + 100)
    with pytest.raises(DownloadInProgress):
        lifecycle.reserve(s, "b", NOW + lifecycle.LEASE_SECONDS + 1)


def test_several_slots():
    s = state(max_downloads=3)
    s = lifecycle.reserve(lifecycle.reserve(s, "a", NOW), "b", NOW)
    s = lifecycle.complete(s, "a")
    s = lifecycle.reserve(s, "c", NOW)
    with pytest.raises(DownloadInProgress):
        lifecycle.reserve(s, "d", NOW)
    assert lifecycle.downloads_left(s) == 2


def test_expired_state():
    with pytest.raises(Expired):
        lifecycle.check_available(state(), NOW + 3600)
    assert lifecycle.is_sweepable(state(), NOW + 3600)
    assert not lifecycle.is_sweepable(state(), NOW + 3599)


def test_failed_attempts_are_limited_per_window():
    s = state(max_downloads=None)
    for i in range(lifecycle.MAX_FAILED_ATTEMPTS):
        lifecycle.check_attempts(s, NOW + i)
        s = lifecycle.record_failure(s, NOW + i)
    with pytest.raises(RateLimited) as blocked:
        lifecycle.check_attempts(s, NOW + 20)
    assert 0 < int(blocked.value.headers["Retry-After"]) <= lifecycle.ATTEMPT_WINDOW
    lifecycle.check_attempts(s, NOW + lifecycle.ATTEMPT_WINDOW + 1)


def test_unlimited_files_have_no_downloads_left_figure():
    assert lifecycle.downloads_left(state(max_downloads=None)) is None
