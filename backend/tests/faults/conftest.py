"""Fixtures for fault injection against a real gunicorn: the integration servers, a tmpfs, a fault switch.

``serve`` and the end-of-session ``log_audit`` are the integration suite's
(every server started here is audited for leaked tokens too). ``tmpfs(path,
size)`` mounts a size-limited tmpfs (root only; the tests that need one skip
with that reason otherwise, and CI runs as root). ``FAULTS_DIR`` holds a
``sitecustomize.py`` that a server started with ``fault_env(switch)`` imports
at start-up: while the file ``switch`` exists, ``os.fsync`` of a regular file
fails with ENOSPC ("blob": any file over 4 KiB), the fault no local file
system produces on demand because they all report a full disk at write() time;
"kill-finished-record" SIGKILLs the process as it is about to store a
resumable upload's record marked finished (once: it removes the switch).
"""

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from ..integration.conftest import log_audit, serve  # noqa: F401 - fixtures shared with the integration suite

FAULTS_DIR = Path(__file__).resolve().parent / "inject"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a size-limited tmpfs and kill -9 of "
                                                          "gunicorn workers need root (CI runs as root)")


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fault_env(switch: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(p for p in (str(FAULTS_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": pythonpath, "ANON_HOSTING_FAULT_SWITCH": str(switch)}


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def storage_kinds(entries: set[str]) -> dict[str, set[str]]:
    """Sort a storage listing: blobs, states, temp files, and the rest (lock files)."""
    kinds = {"blobs": set(), "states": set(), "temps": set(), "other": set()}
    for name in entries:
        if name.startswith(".tmp-"):
            kinds["temps"].add(name)
        elif name.endswith(".state"):
            kinds["states"].add(name.removesuffix(".state"))
        elif len(name) == 43 and not name.startswith("."):
            kinds["blobs"].add(name)
        else:
            kinds["other"].add(name)
    return kinds
