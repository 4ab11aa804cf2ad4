"""The pure lifecycle rules: slots, completion, release, leases that expire, attempts."""

import pytest

from anon_hosting import lifecycle
from anon_hosting.errors import DownloadInProgress, DownloadLimitReached, Expired, NotFound, RateLimited

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


def test_a_file_joining_a_bundle_takes_its_expiry_loses_its_limit_and_opens_only_through_it():
    s = lifecycle.enlist(state(max_downloads=3, fails=[NOW - 5]), NOW + 60, NOW)
    assert (s["exp"], s["max"], s["done"], s["fails"], s[lifecycle.MEMBER]) == (NOW + 60, None, 0, [NOW - 5], True)
    for refused in (lambda: lifecycle.check_available(s, NOW), lambda: lifecycle.reserve(s, "a", NOW),
                    lambda: lifecycle.enlist(s, NOW + 60, NOW)):
        with pytest.raises(NotFound):
            refused()


def test_a_pending_members_file_opens_through_nothing_until_its_join_makes_it_a_member():
    pending = lifecycle.pending_member(NOW + 60)
    for refused in (lambda: lifecycle.check_available(pending, NOW), lambda: lifecycle.reserve(pending, "a", NOW)):
        with pytest.raises(NotFound):
            refused()
    assert lifecycle.is_sweepable(pending, NOW + 60)
    joined = lifecycle.enlist(pending, NOW + 3600, NOW)
    assert (joined["exp"], joined["max"], joined[lifecycle.MEMBER]) == (NOW + 3600, None, True)
    with pytest.raises(NotFound):
        lifecycle.enlist(joined, NOW + 3600, NOW)  # a file joins one bundle
    with pytest.raises(Expired):
        lifecycle.enlist(pending, NOW + 3600, NOW + 60)
    with pytest.raises(Expired):
        lifecycle.enlist(lifecycle.withdraw(pending), NOW + 3600, NOW)  # its upload gave it up
    with pytest.raises(NotFound):
        lifecycle.withdraw(joined)  # a joined file is its bundle's


@pytest.mark.parametrize("before,error", [
    (lambda: lifecycle.reserve(state(), "a", NOW), DownloadInProgress),
    (lambda: state(gone=lifecycle.LIMIT_REACHED), DownloadLimitReached),
    (lambda: state(exp=NOW), Expired),
], ids=["being downloaded", "used up", "expired"])
def test_a_file_being_downloaded_used_up_or_expired_cannot_join(before, error):
    with pytest.raises(error):
        lifecycle.enlist(before(), NOW + 60, NOW)


def test_a_download_that_ends_after_its_file_joined_a_bundle_counts_without_a_limit():
    joined = {**lifecycle.reserve(state(), "a", NOW), "max": None, lifecycle.MEMBER: True}
    assert lifecycle.complete(joined, "a")["gone"] is None
