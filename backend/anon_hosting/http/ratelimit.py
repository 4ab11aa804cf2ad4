"""A small sliding-window counter per client, for failed password attempts.

Contract: ``hit(key)`` records a failure, ``blocked(key)`` is true once ``limit``
failures fall inside ``window`` seconds, ``retry_after(key)`` says when the
oldest of them ages out. Thread-safe, per process, memory bounded by
``max_keys`` (oldest keys are dropped first).
"""

import threading
import time
from collections import OrderedDict, deque


class RateLimiter:
    def __init__(self, limit: int, window: float, max_keys: int = 10_000, clock=time.monotonic):
        self.limit, self.window, self.max_keys, self._clock = limit, window, max_keys, clock
        self._hits: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        with self._lock:
            hits = self._recent(key)
            hits.append(self._clock())
            self._hits[key] = hits
            self._hits.move_to_end(key)
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def retry_after(self, key: str) -> int:
        with self._lock:
            hits = self._recent(key)
            return int(hits[0] + self.window - self._clock()) + 1 if hits else 0

    def _recent(self, key: str) -> deque:
        hits = self._hits.get(key, deque())
        while hits and hits[0] <= self._clock() - self.window:
            hits.popleft()
        return hits
