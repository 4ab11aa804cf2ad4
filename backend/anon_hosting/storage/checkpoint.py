"""WAL checkpoints off the request path: one thread per process copies committed pages into ``index.db``.

Contract: ``due(index)`` says that ``index`` committed; within ``EVERY`` seconds this process's
checkpoint thread (started on the first call in the process) calls ``index.checkpoint()``. An index
is held weakly, so one that is dropped is never checkpointed again. The index's connections never
checkpoint on commit (``wal_autocheckpoint = 0``): a checkpoint's work grows with the pages a
store's recent writes are spread over, so on a large store the commit that crossed SQLite's 1,000
pages would carry it, under the writers' lock, into one request's latency (docs/costs.md).
One index's failure (a folder gone, no file descriptor left) is logged and leaves the thread to
the others, whose WALs would otherwise grow until the process ends.
"""

import logging
import os
import threading
import time
import weakref

EVERY = 1.0  # seconds between two rounds; the WAL holds at most about this long of commits

_lock = threading.Lock()  # guards _due and _started
_running = threading.Lock()  # held through a round, so that a fork never copies SQLite's locks mid-checkpoint
_due: weakref.WeakSet = weakref.WeakSet()
_started = False  # this process's thread (a forked child starts its own: _after_fork_in_child)
log = logging.getLogger(__name__)


def _before_fork() -> None:
    _running.acquire()
    _lock.acquire()


def _after_fork_in_parent() -> None:
    _lock.release()
    _running.release()


def _after_fork_in_child() -> None:
    global _lock, _running, _started
    _lock, _running, _started = threading.Lock(), threading.Lock(), False
    _due.clear()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)


def due(index) -> None:
    global _started
    with _lock:
        if not _started:
            _started = True
            threading.Thread(target=_run, name="index-checkpoint", daemon=True).start()
        _due.add(index)


def _run() -> None:
    while True:
        time.sleep(EVERY)
        with _running:
            with _lock:
                indexes = list(_due)
                _due.clear()
            for index in indexes:
                try:
                    index.checkpoint()
                except Exception as exc:  # noqa: BLE001 - the next commit of that index tries again
                    log.warning("index checkpoint failed (%s)", type(exc).__name__)
            del indexes  # no strong reference kept while asleep
