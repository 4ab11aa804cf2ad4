"""The Prometheus metrics of the server, counted in every gunicorn worker.

Contract: the module-level metrics below are what the code counts, through ``count`` and
``observe`` on the request path (batched in memory, ``Tally``) or directly where it is rare;
``render(storage)`` is the text answer of ``GET /metrics``. When ``PROMETHEUS_MULTIPROC_DIR`` is set (by
gunicorn.conf.py, before any worker starts), prometheus_client keeps each process's
values in files there and ``render`` adds up those of every worker, live or dead;
otherwise it reports this process alone. Labels take only bounded values: a route is
the URL rule (``/api/files/retrieve``), never the path; a code is one of the API's error
codes. ``render`` reads the storage's own figures (files and bytes stored, free bytes)
at scrape time, from the index, and leaves out those a backend cannot give cheaply.
"""

import atexit
import os
import threading
import time
from bisect import bisect_left

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what every Prometheus since 2.0 reads; the names are plain ASCII
UNMATCHED = "(unmatched)"  # the route of a request no URL rule matched
COMPLETED, CUT_SHORT, REFUSED = "completed", "cut_short", "refused"

# A process started without gunicorn.conf.py (the flask CLI: backup, restore, sweep) may find the
# variable set and the folder not made yet; its values go there like a worker's.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)

REQUESTS = Counter("anon_hosting_requests", "Requests answered, by route and status.", ["route", "status"])
DURATION = Histogram("anon_hosting_request_duration_seconds",
                     "Time from a request's arrival to its answer's last byte, for the API routes.", ["route"],
                     buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
UPLOAD_BYTES = Counter("anon_hosting_upload_bytes", "Bytes of uploaded files received (before encryption).")
DOWNLOAD_BYTES = Counter("anon_hosting_download_bytes", "Bytes of downloaded files sent (after decryption).")
UPLOADS = Counter("anon_hosting_uploads", "Uploads, by outcome (completed, cut_short, refused) and error code.",
                  ["outcome", "code"])
DOWNLOADS = Counter("anon_hosting_downloads", "Downloads, by outcome (completed, cut_short, refused) and error code.",
                    ["outcome", "code"])
RATE_LIMITED = Counter("anon_hosting_rate_limited", "Requests the app refused with 429 rate_limited, by route.",
                       ["route"])
SWEEPS = Counter("anon_hosting_sweeps", "Sweeper runs, by kind (regular, full) and result (ok, failed).",
                 ["kind", "result"])
SWEPT = Counter("anon_hosting_swept_items", "Files, blobs and leftovers the sweeper removed.")
TRANSFERS = Gauge("anon_hosting_transfers", "Uploads and downloads in the workers' transfer lanes, by state"
                  " (running, waiting for a thread).", ["state"], multiprocess_mode="livesum")
SCRYPT_IN_FLIGHT = Gauge("anon_hosting_scrypt_in_flight", "Passphrase (scrypt) derivations running now.",
                         multiprocess_mode="livesum")


FLUSH_EVERY = 1.0  # seconds: how stale another worker's counts may be in a scrape


class Tally:
    """This process's counts, added up in memory and written to prometheus_client's values every FLUSH_EVERY s.

    A multiprocess value's ``inc`` takes a process-wide lock, asks the pid and writes the mmapped file: 8.6 K
    instructions, eight times per small-file round trip (docs/performance.md). ``count`` and ``observe`` are a
    dict update under a lock instead. The values are prometheus_client's internals: a counter child's
    ``_value``, a histogram child's ``_upper_bounds``, ``_buckets`` (one value per bucket, not cumulative) and
    ``_sum``; tests/test_metrics.py fails when an upgrade changes them.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict = {}  # prometheus_client value -> amount not yet written
        self._flusher: threading.Thread | None = None

    def count(self, child, amount: float = 1.0) -> None:
        self._add(child._value, amount)

    def observe(self, child, seconds: float) -> None:
        self._add(child._buckets[bisect_left(child._upper_bounds, seconds)], 1.0)
        self._add(child._sum, seconds)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for value, amount in pending.items():
            value.inc(amount)

    def forked(self) -> None:
        """A forked child starts with no pending counts (they are its parent's) and no flusher thread."""
        self._lock, self._pending, self._flusher = threading.Lock(), {}, None

    def _add(self, value, amount: float) -> None:
        with self._lock:
            self._pending[value] = self._pending.get(value, 0.0) + amount
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True)
            self._flusher.start()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()


TALLY = Tally()
count, observe, flush = TALLY.count, TALLY.observe, TALLY.flush
os.register_at_fork(after_in_child=TALLY.forked)
atexit.register(flush)  # a worker that stops cleanly loses no count


def render(storage) -> bytes:
    flush()  # this worker's own counts are current; the others' are at most FLUSH_EVERY old
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_This())
    registry.register(_Storage(storage))
    return generate_latest(registry)


class _This:
    """This process's metrics, when there is no multiprocess folder to add up."""

    def collect(self):
        yield from REGISTRY.collect()


class _Storage:
    """Figures read from the storage at scrape time: a query of the index and a statvfs, for local storage."""

    def __init__(self, storage):
        self._storage = storage

    def collect(self):
        usage = self._storage.usage()
        if usage is not None:
            yield GaugeMetricFamily("anon_hosting_files_stored", "Files holding a blob in storage.", usage[0])
            yield GaugeMetricFamily("anon_hosting_bytes_stored", "Bytes of the stored (encrypted) blobs.", usage[1])
        free = self._storage.free_bytes()
        if free is not None:
            yield GaugeMetricFamily("anon_hosting_storage_free_bytes",
                                    "Bytes free for the server in ENCRYPTED_FILE_STORAGE's file system.", free)
