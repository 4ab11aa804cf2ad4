"""The background sweeper: one thread per host does ``FileService.sweep`` every interval.

Contract: ``start(service, interval, lock_path)`` starts a daemon thread in this
process. Every worker starts one; they elect a leader by taking an exclusive
flock on ``lock_path``, so exactly one sweeps per host, and when that worker
dies its lock goes with it and another takes over at its next try. Errors are
logged and the loop goes on.
"""

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def start(service, interval: int, lock_path: Path) -> threading.Thread:
    thread = threading.Thread(target=_run, args=(service, interval, lock_path), name="sweeper", daemon=True)
    thread.start()
    return thread


def _run(service, interval: int, lock_path: Path) -> None:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    while True:
        if _leading(fd):  # once held, taking it again on the same descriptor succeeds at once
            try:
                removed = service.sweep()
                if removed:
                    log.info("sweeper removed %d item(s)", removed)
            except Exception:
                log.exception("sweep failed")
        time.sleep(interval)


def _leading(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
