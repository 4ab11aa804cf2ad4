"""The rules of a bundle's life: one state object counts the downloads of every file in it.

Contract: pure functions over a bundle's state dict and an explicit ``now``, as ``lifecycle`` is for a
file; the keys ``exp``, ``max``, ``fails`` and ``gone`` mean the same, so ``lifecycle.check_available``,
``check_attempts``, ``record_failure`` and the sweeper apply unchanged::

    {"v": 1, "exp": int, "max": int | None, "n": files, "done": [downloads per file],
     "leases": {lease_id: [until, [file indices]]}, "fails": [timestamps], "gone": None | "download_limit_reached",
     "names": [storage name per file]}  # "names" only when the files joined as resumable uploads

The files' storage names (``member_names``) hold no key, so the owner token can delete them: derived
from the manifest's (``member_name``) for a multipart bundle, listed in ``names`` for a joined one.

A download reserves a slot on each file it sends (every file for a zip), and fails with 410 when any of
them is used up, or 409 when its slots are all held by downloads in progress. Completing it counts once
on each of its files; the bundle is ``gone`` once every file is used up.
"""

import base64
import hashlib

from .errors import DownloadInProgress, DownloadLimitReached
from .lifecycle import LEASE_SECONDS, LIMIT_REACHED, VERSION, check_available


def new(expires_at: int, max_downloads: int | None, files: int, names: list[str] | None = None) -> dict:
    return {"v": VERSION, "exp": expires_at, "max": max_downloads, "n": files, "done": [0] * files,
            "leases": {}, "fails": [], "gone": None, **({"names": names} if names else {})}


def member_name(manifest_name: str, index: int) -> str:
    """The storage name of a multipart bundle's file ``index``: 43 base64url characters, like a random one."""
    digest = hashlib.sha256(f"anon-hosting bundle member\0{manifest_name}\0{index}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:43]


def member_names(manifest_name: str, state: dict) -> list[str]:
    return state.get("names") or [member_name(manifest_name, i) for i in range(state["n"])]


def is_bundle(state: dict) -> bool:
    return "n" in state


def downloads_left(state: dict) -> list[int | None]:
    if state["max"] is None:
        return [None] * state["n"]
    return [max(0, state["max"] - done) for done in state["done"]]


def downloads_in_progress(state: dict, now: float) -> int:
    return len(_live_leases(state, now))


def reserve(state: dict, lease: str, files: list[int], now: float) -> dict:
    check_available(state, now)
    leases = _live_leases(state, now)
    held = [0] * state["n"]
    for _, indices in leases.values():
        for i in indices:
            held[i] += 1
    if any(state["done"][i] >= state["max"] for i in files):
        raise DownloadLimitReached()
    if any(state["done"][i] + held[i] >= state["max"] for i in files):
        raise DownloadInProgress()
    return {**state, "leases": {**leases, lease: [int(now) + LEASE_SECONDS, files]}}


def renew(state: dict, lease: str, now: float) -> dict:
    if lease not in state["leases"]:
        return state
    return {**state, "leases": {**state["leases"], lease: [int(now) + LEASE_SECONDS, state["leases"][lease][1]]}}


def complete(state: dict, lease: str, files: list[int]) -> dict:
    """Count the download once on each of ``files``, even when its lease expired and was dropped meanwhile."""
    done = list(state["done"])
    for i in files:
        done[i] += 1
    leases = {k: v for k, v in state["leases"].items() if k != lease}
    gone = LIMIT_REACHED if all(d >= state["max"] for d in done) else None
    return {**state, "done": done, "leases": leases, "gone": gone}


def release(state: dict, lease: str) -> dict:
    return {**state, "leases": {k: v for k, v in state["leases"].items() if k != lease}}


def used_up(state: dict) -> list[int]:
    """The files no download may take any more (their blobs can go)."""
    if state["max"] is None:
        return []
    return [i for i, done in enumerate(state["done"]) if done >= state["max"]]


def _live_leases(state: dict, now: float) -> dict:
    return {k: v for k, v in state["leases"].items() if v[0] > now}
