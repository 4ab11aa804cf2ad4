"""The worker's thread pool (gthread's ``get_thread_pool`` hook), whose threads can retire.

Contract: ``Pool(size)`` is what gthread needs of a ``ThreadPoolExecutor``: ``submit(fn, *args)``
runs ``fn(*args)`` on one of at most ``size`` threads and returns its ``Future``, and
``shutdown(wait)`` lets the threads end once the tasks already queued are done (``wait`` joins
them). In addition, ``retire()`` called from a task ends its thread once that task returns, and a
new thread takes the next task: serving/worker.py retires a thread it has made nicer, which no
process may make as nice as before again without privilege.
"""

import threading
from collections import deque
from concurrent.futures import Future


class Pool:
    def __init__(self, size: int):
        self._size = size
        self._tasks: deque = deque()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._idle: list[threading.Lock] = []  # a held lock per idle thread, the most recently idle last
        self._closed = False
        self._local = threading.local()

    def submit(self, fn, *args) -> Future:
        future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is shut down")
            self._tasks.append((future, fn, args))
            self._hand_over()
        return future

    def retire(self) -> None:
        self._local.retire = True

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            while self._idle:
                self._idle.pop().release()
            threads = list(self._threads)
        for thread in threads if wait else ():
            thread.join()

    def _hand_over(self) -> None:
        """With the lock held, for a task just queued: wake the thread idle the shortest time (its caches are
        the warmest), else start one while there is room, else a busy thread takes it when it is done."""
        if self._idle:
            self._idle.pop().release()
        elif len(self._threads) < self._size:
            thread = threading.Thread(target=self._serve, name="pool", daemon=True)
            self._threads.add(thread)
            thread.start()

    def _serve(self) -> None:
        self._local.retire = False
        while True:
            with self._lock:
                if not self._tasks:
                    if self._closed:
                        self._threads.discard(threading.current_thread())
                        return
                    wake = threading.Lock()
                    wake.acquire()
                    self._idle.append(wake)
                    task = None
                else:
                    task = self._tasks.popleft()
            if task is None:
                wake.acquire()  # until a submit or the shutdown releases it
                continue
            future, fn, args = task
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    future.set_exception(exc)
            del task, future, fn, args  # nothing of a finished task is kept alive by an idle thread
            if self._local.retire:
                with self._lock:
                    self._threads.discard(threading.current_thread())
                    if self._tasks:
                        self._hand_over()
                return
