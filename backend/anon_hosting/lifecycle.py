"""The rules of a file's life: expiry, download slots, passphrase attempts.

Contract: pure functions over a state dict (the JSON kept beside each blob by
``storage``) and an explicit ``now``; they return a new state or raise an
``AppError``. The state holds no name and no key::

    {"v": 1, "exp": int, "max": int | None, "done": int,
     "leases": {lease_id: until}, "fails": [timestamps], "gone": None | "download_limit_reached"}

A finished file that joins a bundle (``enlist``) also holds ``"member": true``: from then on it is
reachable through its bundle only, so its own tokens open nothing (``check_available``: 404). A file
stored by a bundle member's upload holds ``"member": "pending"`` (``pending_member``) until its join:
reachable through nothing, and swept at its expiry like any file if the join never comes.

A download with a limit first reserves a slot (a lease that expires, so a killed
process cannot hold a slot forever), renews it while streaming, and turns it into
a completed download after its last byte was sent, or when it breaks after more
than half of the file was sent (``counts``); a download that breaks earlier
releases it. Completed downloads plus live leases never exceed ``max``.
"""

from .errors import DownloadInProgress, DownloadLimitReached, Expired, NotFound, RateLimited

VERSION = 1
LEASE_SECONDS = 120
RENEW_EVERY = 30
MAX_FAILED_ATTEMPTS = 10
ATTEMPT_WINDOW = 600
LIMIT_REACHED = "download_limit_reached"
MEMBER = "member"
PENDING = "pending"


def new(expires_at: int, max_downloads: int | None) -> dict:
    return {"v": VERSION, "exp": expires_at, "max": max_downloads, "done": 0, "leases": {}, "fails": [],
            "gone": None}


def pending_member(expires_at: int) -> dict:
    return {**new(expires_at, None), MEMBER: PENDING}


def check_available(state: dict, now: float) -> None:
    if state.get(MEMBER):
        raise NotFound()
    if state["exp"] <= now:
        raise Expired()
    if state["gone"] == LIMIT_REACHED:
        raise DownloadLimitReached()


def downloads_left(state: dict) -> int | None:
    return None if state["max"] is None else max(0, state["max"] - state["done"])


def downloads_in_progress(state: dict, now: float) -> int:
    """Downloads holding a slot right now (a file without a limit holds none)."""
    return len(_live_leases(state, now))


def reserve(state: dict, lease: str, now: float) -> dict:
    check_available(state, now)
    leases = _live_leases(state, now)
    if state["done"] + len(leases) >= state["max"]:
        raise DownloadInProgress()
    return {**state, "leases": {**leases, lease: int(now) + LEASE_SECONDS}}


def counts(sent: int, size: int) -> bool:
    """Whether a download that ended after ``sent`` of ``size`` plaintext bytes uses up a download.

    A broken download that got more than half the file counts as a completed one, so repeated
    partial reads deliver at most the first half without using a download; one that broke
    earlier leaves its slot to a retry.
    """
    return sent * 2 > size


def renew(state: dict, lease: str, now: float) -> dict:
    return {**state, "leases": {**state["leases"], lease: int(now) + LEASE_SECONDS}}


def complete(state: dict, lease: str) -> dict:
    leases = {k: v for k, v in state["leases"].items() if k != lease}
    done = state["done"] + 1
    # A file that joined a bundle during this download has no limit of its own any more.
    used_up = state["max"] is not None and done >= state["max"]
    return {**state, "done": done, "leases": leases, "gone": LIMIT_REACHED if used_up else None}


def enlist(state: dict, expires_at: int, now: float) -> dict:
    """The state of a file joining a bundle: the bundle's expiry, no limit of its own, reachable through
    the bundle only. A file already joined, gone or expired is refused, and so is one being downloaded."""
    if state.get(MEMBER) == PENDING:
        if state["exp"] <= now:
            raise Expired()
    else:
        check_available(state, now)
        if _live_leases(state, now):
            raise DownloadInProgress()
    return {**new(expires_at, None), "fails": state["fails"], MEMBER: True}


def withdraw(state: dict) -> dict:
    """A pending member's file given up by its upload: expired at once, so no join can take it any more."""
    if state.get(MEMBER) != PENDING:
        raise NotFound()
    return {**state, "exp": 0}


def release(state: dict, lease: str) -> dict:
    return {**state, "leases": {k: v for k, v in state["leases"].items() if k != lease}}


def check_attempts(state: dict, now: float) -> None:
    recent = [t for t in state["fails"] if t > now - ATTEMPT_WINDOW]
    if len(recent) >= MAX_FAILED_ATTEMPTS:
        raise RateLimited(retry_after=int(min(recent) + ATTEMPT_WINDOW - now) + 1)


def record_failure(state: dict, now: float) -> dict:
    recent = [t for t in state["fails"] if t > now - ATTEMPT_WINDOW]
    return {**state, "fails": recent + [int(now)]}


def is_sweepable(state: dict, now: float) -> bool:
    return state["exp"] <= now


def _live_leases(state: dict, now: float) -> dict:
    return {k: v for k, v in state["leases"].items() if v > now}
