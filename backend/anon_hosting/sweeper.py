"""The background sweeper: one thread per host does ``FileService.sweep`` every interval.

Contract: ``start(service, interval, lock_path)`` starts a daemon thread in this
process. Every worker starts one; they elect a leader by taking an exclusive
flock on ``lock_path``, so exactly one sweeps per host, and when that worker
dies its lock goes with it and another takes over at its next try. A leader's
first sweep, and one every ``FULL_EVERY`` seconds after it, is a full sweep
(every state read: the reconciliation); the others look only at what expired.
Errors are logged and the loop goes on. Each run is counted
(``metrics.SWEEPS``, ``metrics.SWEPT``).
"""

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from . import metrics

log = logging.getLogger(__name__)
FULL_EVERY = 86400  # seconds between two full sweeps of one leader


def start(service, interval: int, lock_path: Path, stop: threading.Event | None = None) -> threading.Thread:
    """The sweeper thread; it ends once ``stop`` is set (never, without one)."""
    stop = stop or threading.Event()
    thread = threading.Thread(target=_run, args=(service, interval, lock_path, stop), name="sweeper", daemon=True)
    thread.start()
    return thread


def _run(service, interval: int, lock_path: Path, stop: threading.Event) -> None:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    last_full = None
    while not stop.is_set():
        if _leading(fd):  # once held, taking it again on the same descriptor succeeds at once
            full = last_full is None or time.monotonic() - last_full >= FULL_EVERY
            kind = "full" if full else "regular"
            try:
                removed = service.sweep(full=full)
                if full:
                    last_full = time.monotonic()
                metrics.SWEEPS.labels(kind, "ok").inc()
                metrics.SWEPT.inc(removed)
                if removed:
                    log.info("sweeper removed %d item(s)%s", removed, " (full sweep)" if full else "")
            except Exception:
                metrics.SWEEPS.labels(kind, "failed").inc()
                log.exception("sweep failed")
        stop.wait(interval)
    os.close(fd)


def _leading(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
