"""The one RSS sampler of the tests and benchmarks: processes' memory, polled in a background thread (needs psutil).

Contract: ``RssSampler(processes, interval)`` calls ``processes()`` (``workers_of(master_pid)``: a gunicorn
master's workers; ``itself(pid)``: one process) and reads each process's RSS every ``interval`` seconds
between ``start()`` and ``stop()`` (or inside ``with``), once more at each end. It keeps ``peak`` (bytes),
``peak_by_pid``, ``samples`` (the number of passes) and, inside ``phase(label)``, ``peaks[label]``. With
``phases_only`` it polls only inside a phase; with ``details`` it also records every pass as
``rows[pid] = [(seconds since t0, rss, threads, open fds), ...]``. A process that ends is skipped.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager

import psutil

Processes = Callable[[], list[psutil.Process]]


def workers_of(master_pid: int, refresh: float = 0.5) -> Processes:
    """The master's children, listed again at most every ``refresh`` s (listing reads all of /proc)."""
    master, cache = psutil.Process(master_pid), {"at": float("-inf"), "list": []}

    def workers() -> list[psutil.Process]:
        if time.monotonic() - cache["at"] > refresh:
            try:
                cache["list"] = master.children()
            except psutil.NoSuchProcess:
                cache["list"] = []
            cache["at"] = time.monotonic()
        return cache["list"]

    return workers


def itself(pid: int) -> Processes:
    process = psutil.Process(pid)
    return lambda: [process]


def worker_rss(master_pid: int) -> dict[int, int]:
    """Each worker's RSS right now, in bytes."""
    return dict(RssSampler(workers_of(master_pid))._read())


class RssSampler:
    def __init__(self, processes: Processes, interval: float = 0.02, *, details: bool = False,
                 phases_only: bool = False):
        self.processes, self.interval = processes, interval
        self.details, self.phases_only = details, phases_only
        self.peak, self.samples = 0, 0
        self.peak_by_pid: dict[int, int] = {}
        self.peaks: dict = {}
        self.rows: dict[int, list[tuple[float, int, int, int]]] = defaultdict(list)
        self.t0 = time.monotonic()
        self._label: object = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.sample()

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def current(self) -> int:
        """The highest RSS among the processes right now."""
        return max((rss for _pid, rss in self._read()), default=0)

    @contextmanager
    def phase(self, label):
        self._label = label
        try:
            yield
        finally:
            time.sleep(3 * self.interval)  # the last polls of the phase
            self._label = None

    def sample(self) -> None:
        now, label = time.monotonic() - self.t0, self._label
        for pid, rss, *more in self._read(self.details):
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), rss)
            self.peak = max(self.peak, rss)
            if label is not None:
                self.peaks[label] = max(self.peaks.get(label, 0), rss)
            if self.details:
                self.rows[pid].append((now, rss, *more))
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.phases_only or self._label is not None:
                self.sample()

    def _read(self, details: bool = False) -> list[tuple]:
        found = []
        for process in self.processes():
            try:
                with process.oneshot():
                    rss = process.memory_info().rss
                    found.append((process.pid, rss, process.num_threads(), process.num_fds()) if details
                                 else (process.pid, rss))
            except psutil.Error:
                continue
        return found
