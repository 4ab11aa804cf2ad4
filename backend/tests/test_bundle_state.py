"""The bundle counting rules, as pure functions over a state and a clock."""

import pytest

from anon_hosting import bundle_state, lifecycle
from anon_hosting.errors import DownloadInProgress, DownloadLimitReached, Expired

NOW = 1_000_000


def test_a_zip_reserves_every_file_and_counts_once_on_each():
    state = bundle_state.new(NOW + 60, 2, 3)
    state = bundle_state.reserve(state, "zip", [0, 1, 2], NOW)
    assert bundle_state.downloads_in_progress(state, NOW) == 1
    state = bundle_state.complete(state, "zip", [0, 1, 2])
    assert (bundle_state.downloads_left(state), state["leases"], state["gone"]) == ([1, 1, 1], {}, None)


def test_a_used_up_file_refuses_the_zip_with_410_and_leaves_the_others():
    state = bundle_state.complete(bundle_state.reserve(bundle_state.new(NOW + 60, 1, 2), "a", [0], NOW), "a", [0])
    assert bundle_state.used_up(state) == [0]
    with pytest.raises(DownloadLimitReached):
        bundle_state.reserve(state, "zip", [0, 1], NOW)
    state = bundle_state.complete(bundle_state.reserve(state, "b", [1], NOW), "b", [1])
    assert state["gone"] == lifecycle.LIMIT_REACHED
    with pytest.raises(DownloadLimitReached):
        lifecycle.check_available(state, NOW)


def test_slots_held_by_downloads_in_progress_refuse_with_409_until_released_or_expired():
    state = bundle_state.reserve(bundle_state.new(NOW + 600, 1, 2), "zip", [0, 1], NOW)
    with pytest.raises(DownloadInProgress):
        bundle_state.reserve(state, "one", [1], NOW)
    assert bundle_state.reserve(bundle_state.release(state, "zip"), "one", [1], NOW)["leases"]["one"][1] == [1]
    later = NOW + lifecycle.LEASE_SECONDS + 1
    assert "one" in bundle_state.reserve(state, "one", [1], later)["leases"]


def test_renewing_keeps_the_lease_and_a_dropped_lease_still_counts_on_completion():
    state = bundle_state.reserve(bundle_state.new(NOW + 600, 3, 1), "x", [0], NOW)
    renewed = bundle_state.renew(state, "x", NOW + 100)
    assert renewed["leases"]["x"] == [NOW + 100 + lifecycle.LEASE_SECONDS, [0]]
    assert bundle_state.renew(renewed, "gone", NOW) == renewed
    assert bundle_state.complete(bundle_state.release(state, "x"), "x", [0])["done"] == [1]


def test_unlimited_bundles_report_none_per_file_and_expiry_is_the_file_rule():
    state = bundle_state.new(NOW, None, 2)
    assert (bundle_state.downloads_left(state), bundle_state.used_up(state)) == ([None, None], [])
    assert bundle_state.is_bundle(state) and not bundle_state.is_bundle(lifecycle.new(NOW, None))
    with pytest.raises(Expired):
        lifecycle.check_available(state, NOW)


def test_member_names_are_derived_from_the_manifest_unless_listed():
    derived = bundle_state.new(NOW + 60, None, 2)
    assert "names" not in derived
    assert bundle_state.member_names("M" * 43, derived) == [bundle_state.member_name("M" * 43, i) for i in (0, 1)]
    listed = bundle_state.new(NOW + 60, None, 2, ["a" * 43, "b" * 43])
    assert bundle_state.member_names("M" * 43, listed) == ["a" * 43, "b" * 43]
