"""Group commit: the writes that threads of one process queue while a transaction commits go into the next one.

Contract: ``GroupCommit(commit).run(op)`` queues ``op`` and returns its result (or raises its error) once a
call ``commit(ops)`` that included it has returned. One thread at a time, the *leader*, calls ``commit``
with every op queued so far, its own included; the others wait. When it is done it wakes them, and hands
the lead to the first op queued meanwhile, whose thread commits the next group. ``commit`` runs the ops in
one transaction and sets each ``Op``'s ``result`` or ``error``; if it raises, every op of the group gets
that error (each thread its own copy, chained to it). So a transaction's fixed cost (a lock, an fsynced
commit, and the waits for the GIL and a CPU in between) is paid once per group instead of once per write:
under load a writer no longer queues behind every other writer's commit (docs/performance.md).
Nothing is reordered or merged: each op still runs alone, in queue order, and only returns once committed.
An op must not call ``run`` itself. After a fork the child starts with an empty queue and no leader.
"""

import copy
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any


class Op:
    __slots__ = ("fn", "woken", "lead", "result", "error")

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn, self.lead = fn, False
        self.woken: threading.Event | None = None  # only an op that waits for a leader needs one
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, commit: Callable[[list[Op]], None]):
        self._commit = commit
        self._reset()
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (group := me()) is not None and group._reset())

    def _reset(self) -> None:
        self._mutex = threading.Lock()
        self._queue: list[Op] = []
        self._busy = False  # a leader is committing, or has been chosen

    def run(self, fn: Callable[[Any], Any]) -> Any:
        op = Op(fn)
        with self._mutex:
            self._queue.append(op)
            op.lead, self._busy = not self._busy, True
            if not op.lead:
                op.woken = threading.Event()
        if not op.lead:
            op.woken.wait()  # done, or handed the lead (``lead`` is set before the wake-up)
        if op.lead:
            self._lead()
        if op.error is not None:
            raise op.error
        return op.result

    def _lead(self) -> None:
        with self._mutex:
            group, self._queue = self._queue, []
        try:
            self._commit(group)
        except BaseException as exc:  # noqa: BLE001 - the whole group failed: every op must report it, none return
            for i, op in enumerate(group):
                op.error = exc if i == 0 else _copy(exc)
        finally:
            with self._mutex:
                heir = self._queue[0] if self._queue else None
                if heir is None:
                    self._busy = False
                else:
                    heir.lead = True
            for op in group:
                if not op.lead:
                    op.woken.set()
            if heir is not None:
                heir.woken.set()


def _copy(exc: BaseException) -> BaseException:
    """A copy to raise in another thread (raising sets ``__traceback__``, so threads must not share one)."""
    try:
        clone = copy.copy(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot be rebuilt from its args: share it
        return exc
    clone.__cause__, clone.__traceback__ = exc, None
    return clone
