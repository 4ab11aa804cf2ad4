"""Per-client-IP rate limits of the app: sliding-window counters kept in each worker process.

Contract: ``RateLimiter(limit, window)``: ``hit(key)`` records an event,
``blocked(key)`` is true once ``limit`` events fall inside ``window`` seconds,
``acquire(key)`` records one unless the key is blocked (and says which),
``retry_after(key)`` says when the oldest event ages out. Thread-safe, per
process, memory bounded by ``max_keys`` (oldest keys are dropped first), which
``for_limit`` sizes so that every limiter holds at most ``MAX_HITS`` events.

``ClientLimits.from_config(site)`` builds the app's limiters from config
(``None`` where a limit is off): ``uploads`` and ``tokens`` count requests to
POST /api/files, /api/uploads and /api/bundles, and to info/retrieve/delete;
``bundle_files`` counts instead the creations (POST /api/uploads) of bundle
members, which issue no token and count as an upload at their join; ``passphrase_requests`` counts
every info or retrieve that carries a passphrase, right or wrong (each costs an
scrypt derivation); ``passphrases`` and ``upload_password`` count failed
attempts only. ``check_request`` and
``check_attempts`` raise ``RateLimited`` (429 with Retry-After). The key is
``request.remote_addr``, which is the peer address unless TRUSTED_PROXIES makes
ProxyFix (wired in ``http.init_app``) take it from X-Forwarded-For. Limits are
per worker process; nginx's ``limit_req`` is the shared, front-line limit.
"""

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from ..errors import RateLimited

TOKEN_ENDPOINTS = frozenset({"api.info", "api.retrieve", "api.delete"})
UPLOAD_ENDPOINTS = frozenset({"api.upload", "api.tus_create", "api.join_bundle"})
CREATION_ENDPOINT = "api.tus_create"
MAX_HITS = 1_200_000  # events kept per limiter and process: 10,000 keys at 120 a window
TOO_MANY_REQUESTS = "Too many requests from your address. Wait a moment and try again."


class RateLimiter:
    def __init__(self, limit: int, window: float, max_keys: int = 10_000, clock=time.monotonic):
        self.limit, self.window, self.max_keys, self._clock = limit, window, max_keys, clock
        self._hits: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def for_limit(cls, limit: int, window: float) -> "RateLimiter":
        return cls(limit, window, max_keys=max(1, min(10_000, MAX_HITS // limit)))

    def hit(self, key: str) -> None:
        with self._lock:
            self._record(key, self._recent(key))

    def acquire(self, key: str) -> bool:
        """Record one event and return True, or return False (recording nothing) while blocked."""
        with self._lock:
            hits = self._recent(key)
            if len(hits) >= self.limit:
                return False
            self._record(key, hits)
            return True

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.limit

    def retry_after(self, key: str) -> int:
        with self._lock:
            hits = self._recent(key)
            return int(hits[0] + self.window - self._clock()) + 1 if hits else 0

    def _record(self, key: str, hits: deque) -> None:
        hits.append(self._clock())
        while len(hits) > self.limit:  # only the newest ``limit`` matter for a decision
            hits.popleft()
        self._hits[key] = hits
        self._hits.move_to_end(key)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def _recent(self, key: str) -> deque:
        hits = self._hits.get(key, deque())
        while hits and hits[0] <= self._clock() - self.window:
            hits.popleft()
        return hits


@dataclass(frozen=True)
class ClientLimits:
    uploads: RateLimiter | None
    tokens: RateLimiter | None
    passphrases: RateLimiter | None
    upload_password: RateLimiter | None
    passphrase_requests: RateLimiter | None = None
    bundle_files: RateLimiter | None = None

    @classmethod
    def from_config(cls, site) -> "ClientLimits":
        def make(rate: tuple[int, int] | None) -> RateLimiter | None:
            return None if rate is None else RateLimiter.for_limit(*rate)
        return cls(make(site.rate_limit_uploads), make(site.rate_limit_tokens),
                   make(site.rate_limit_passphrases), make(site.rate_limit_upload_password),
                   make(site.rate_limit_passphrase_requests), make(site.rate_limit_bundle_files))

    def for_endpoint(self, endpoint: str | None, member: bool = False) -> RateLimiter | None:
        """The limiter a request draws on; ``member``: its Upload-Metadata declares a bundle member."""
        if endpoint == CREATION_ENDPOINT and member:
            return self.bundle_files
        if endpoint in UPLOAD_ENDPOINTS:
            return self.uploads
        if endpoint in TOKEN_ENDPOINTS:
            return self.tokens
        return None


def check_request(limiter: RateLimiter | None, client: str) -> None:
    """Count this request against ``limiter``; 429 once the client is over it."""
    if limiter is not None and not limiter.acquire(client):
        raise RateLimited(TOO_MANY_REQUESTS, retry_after=limiter.retry_after(client))


def check_attempts(limiter: RateLimiter | None, client: str) -> None:
    """429 while the client has used up its failed attempts (the failures are ``hit`` elsewhere)."""
    if limiter is not None and limiter.blocked(client):
        raise RateLimited(retry_after=limiter.retry_after(client))


def record_failure(limiter: RateLimiter | None, client: str) -> None:
    if limiter is not None:
        limiter.hit(client)
