"""Load and soak: N concurrent clients for D seconds against one Anon Hosting base URL, every byte checked.

    .venv/bin/python bench/soak.py [BASE_URL] [--clients 64] [--duration 600] [--max-size 50MiB]
                                   [--server-pid PID] [--json PATH] [--seed N] [--abusers 64]

Contract: ``main(argv) -> int`` runs a bounded soak and returns 0 when every goal
is met, 1 otherwise (2 for a usage or start-up error). Traffic goes only to
BASE_URL, which must be a loopback address; without one the script starts the
real stack itself on loopback ports and temporary folders (scripts/stack.py
``Stack``: nginx + gunicorn, or gunicorn alone when nginx is missing; if that
file is absent, a bare gunicorn) and says which. Each client loops over
uploads (sizes 1 KiB .. --max-size, mostly small, both upload forms, some with
max_downloads), infos, retrieves, deletes and ~5% hostile requests (garbage and
tampered tokens, a token in the query string, a bad multipart body), each with
one expected answer. Payloads come from a seeded PRNG and are never kept: the
sha256 of what was sent is compared with the sha256 of what comes back. After
the load, every file still held is downloaded and checked once more.

With ``--abusers N``, a background of abusive clients runs from 127.0.0.1 and
127.0.0.2 for the whole load (bench/abuse.py, renewed every 30 s): N connections trickling
or stalling request bodies and N reading a 32 MiB download slowly or not at all. The clients then
each come from their own loopback address (127.0.1.1, ...) and a self-started
stack keeps nginx's per-address connection caps (CONN_PER_IP,
TRANSFERS_PER_IP; the rates stay off), so the goals below measure the service
under abuse.

Goals (exit 1 if one is missed): zero lost or corrupted files, zero 5xx, zero
unexpected answers or transport errors, no worker died, and no worker's RSS
grew. RSS is sampled every second; after the load (every file checked, every
connection closed) the script waits --settle seconds (12: two of the workers'
5-s malloc trims, backend/gunicorn.conf.py) and samples once more. That last,
idle RSS must be within --rss-slack (20 MiB) of both the worker's idle RSS at
the start and its highest RSS in the first half of the run (the warm-up, when
its threads first meet large transfers). A leak keeps growing with the number
of requests and fails both. The report also gives each worker's RSS trend over
the second half (least squares, MiB per minute) and a timeline. Without a
server PID (a remote base URL whose process cannot be found) the RSS goal is
reported as not measured, not as passed. Results: a table on stdout and, with
--json, a JSON file with the same figures.

Right after a client's last allowed download of a file, the server may not yet
have recorded it (it does once the last byte is in its socket buffer); in that
window info answers 200 with one download left and one in progress, and
retrieve 409 download_in_progress, where 410 is due. Those are accepted and counted as
"lease still open"; a second complete download is not.

The rate limits of the app are per client IP, and every client here is
127.0.0.1, so a self-started server runs with RATE_LIMIT_*=0. Against a server
with limits on (nginx's limit_req), pass --tolerate-429: each 429 is then waited
out (Retry-After, at most 5 s, up to 5 times) and reported in the table rather
than counted as an unexpected answer.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import psutil
import requests
from jwcrypto.common import base64url_decode, base64url_encode

REPO = Path(__file__).resolve().parent.parent
KIB, MIB = 1 << 10, 1 << 20
PIECE = MIB
NO_RATE_LIMITS = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "RATE_LIMIT_PASSPHRASES": "0",
                  "RATE_LIMIT_PASSPHRASE_REQUESTS": "0",
                  "RATE_LIMIT_UPLOAD_PASSWORD": "0"}
FILES_PER_CLIENT = 12
REQUEST_TIMEOUT = 300
MAX_429_RETRIES = 5
GONE = (410, "download_limit_reached")
ENDPOINTS = ("upload", "info", "retrieve", "delete", "hostile", "verify")


# -- payloads -----------------------------------------------------------------------

def pick_size(rng: random.Random, max_size: int) -> int:
    """Mostly small: 70% up to 64 KiB, 20% up to 1 MiB, 8% up to 8 MiB, 2% up to max (log-uniform)."""
    roll = rng.random()
    tiers = [(0.70, KIB, 64 * KIB), (0.90, 64 * KIB, MIB), (0.98, MIB, 8 * MIB), (1.0, 8 * MIB, max_size)]
    for limit, low, high in tiers:
        if roll < limit:
            high, low = min(high, max_size), min(low, max_size)
            return int(round(low * (high / low) ** rng.random())) if high > low else high
    return max_size


def payload(seed: int, size: int):
    """The bytes of one upload, regenerated from its seed in 1 MiB pieces."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    left = size
    while left:
        piece = rng.randbytes(min(PIECE, left))
        left -= len(piece)
        yield piece


def payload_sha256(seed: int, size: int) -> str:
    digest = hashlib.sha256()
    for piece in payload(seed, size):
        digest.update(piece)
    return digest.hexdigest()


class MultipartStream:
    """multipart/form-data around a generated payload, with a Content-Length, streamed as it is sent."""

    def __init__(self, seed: int, size: int, name: str, fields: dict[str, str]):
        self.seed, self.size = seed, size
        self.boundary = "soak-" + secrets.token_hex(12)
        head = "".join(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n")
        self.head, self.tail = head.encode(), f"\r\n--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self):
        yield self.head
        yield from payload(self.seed, self.size)
        yield self.tail


class RawStream:
    def __init__(self, seed: int, size: int):
        self.seed, self.size = seed, size

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        yield from payload(self.seed, self.size)


# -- results ------------------------------------------------------------------------

@dataclass
class Stored:
    token: str
    owner: str
    seed: int
    size: int
    sha256: str
    max_downloads: int | None
    downloads: int = 0


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected: list[str] = field(default_factory=list)
    lost: int = 0
    corrupted: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    verified_files: int = 0
    lease_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_lease_open(self) -> None:
        with self.lock:
            self.lease_open += 1

    def record(self, endpoint: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.codes[endpoint][str(status)] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.unexpected) < 200:
                self.unexpected.append(text)
            else:
                self.unexpected[-1] = f"... and more (last: {text})"

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.codes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.codes.values() for code, n in c.items() if code.startswith("5"))


def lease_still_open(response: requests.Response) -> bool:
    """The answer to a file whose last allowed download has just ended, before the server has recorded it.

    The server counts a download once its last byte is in the kernel's socket buffer;
    until the worker that sent it has written that down (a few ms), the download's
    lease is still open, so info answers 200 with one download left and one in progress,
    and a retrieve 409 download_in_progress, even to the client that has every byte. Either
    is accepted where 410 was expected, and counted in the report.
    """
    if response.status_code == 409:
        return error_code(response) == "download_in_progress"
    if response.status_code == 200 and response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            return False
        # the one allowed download left is the one still being recorded: anything else is a lost count
        return body.get("downloads_left") == 1 and body.get("downloads_in_progress") == 1
    return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- one client ---------------------------------------------------------------------

def error_code(response: requests.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def tamper(token: str, rng: random.Random) -> str:
    """Flip one bit of the decoded bytes of one part: always a real change (no base64 slack bits)."""
    parts = token.split(".")
    index = rng.choice([i for i, p in enumerate(parts) if p])
    raw = bytearray(base64url_decode(parts[index]))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    parts[index] = base64url_encode(bytes(raw))
    return ".".join(parts)


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connections from one loopback address, so nginx's per-address connection caps see one client each."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_address(number: int) -> str:
    """127.0.1.1, 127.0.1.2, ...: one loopback address per client, apart from the abusers' 127.0.0.1."""
    return f"127.0.{1 + number // 254}.{1 + number % 254}"


class Client:
    def __init__(self, number: int, base_url: str, max_size: int, seed: int, hostile_share: float,
                 results: Results, deadline: float, tolerate_429: bool = False, source: str | None = None):
        self.tolerate_429 = tolerate_429
        self.number, self.base, self.max_size = number, base_url.rstrip("/"), max_size
        self.rng = random.Random(seed * 1_000_003 + number)  # noqa: S311 - a reproducible load mix
        self.hostile_share, self.results, self.deadline = hostile_share, results, deadline
        self.session = requests.Session()
        if source is not None:
            self.session.mount("http://", SourceAddressAdapter(source))
        self.files: list[Stored] = []

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.step()
        finally:
            self.session.close()

    def step(self) -> None:
        roll = self.rng.random()
        if roll < self.hostile_share:
            self.hostile()
        elif not self.files or roll < self.hostile_share + 0.25:
            self.upload()
        elif roll < 0.50:
            self.info(self.rng.choice(self.files))
        elif roll < 0.85:
            self.retrieve(self.rng.choice(self.files))
        else:
            self.delete(self.files[0])
        if len(self.files) > FILES_PER_CLIENT:
            self.delete(self.files[0])

    # -- calls --

    def _call(self, endpoint: str, method: str, path: str, expect: tuple[int, str | None],
              **kwargs) -> requests.Response | None:
        for _attempt in range(MAX_429_RETRIES + 1):
            started = time.monotonic()
            try:
                response = self.session.request(method, self.base + path, timeout=REQUEST_TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                self.results.record(endpoint, time.monotonic() - started, "transport_error")
                self.results.problem(f"{endpoint}: {type(exc).__name__}: {str(exc)[:160]}")
                return None
            self.results.record(endpoint, time.monotonic() - started, response.status_code)
            if not self.backoff(response):
                break
        status, code = expect
        if (status, code) == GONE and lease_still_open(response):
            self.results.count_lease_open()
            return None
        if response.status_code != status or (code is not None and error_code(response) != code):
            self.results.problem(f"{endpoint}: expected {status} {code or ''}, got {response.status_code} "
                                 f"{error_code(response) or response.text[:120]}")
            return None
        return response

    def upload(self) -> None:
        size, seed = pick_size(self.rng, self.max_size), self.rng.getrandbits(63)
        limit = 2 if self.rng.random() < 0.1 else None
        fields = {"max_downloads": str(limit)} if limit else {}
        name = f"soak-{self.number}-{seed % 10_000}.bin"
        if self.rng.random() < 0.5:
            body, headers = RawStream(seed, size), {"Content-Type": "application/octet-stream",
                                                    "X-File-Name": quote(name)}
            path = "/api/files" + (f"?max_downloads={limit}" if limit else "")
        else:
            body = MultipartStream(seed, size, name, fields)
            headers, path = {"Content-Type": f"multipart/form-data; boundary={body.boundary}"}, "/api/files"
        response = self._call("upload", "POST", path, (201, None), data=body, headers=headers)
        if response is None:
            return
        answer = response.json()
        if answer.get("size") != size:
            self.results.problem(f"upload: answered size {answer.get('size')} for {size} bytes")
        self.files.append(Stored(answer["token"], answer["owner_token"], seed, size, payload_sha256(seed, size),
                                 limit))
        with self.results.lock:
            self.results.uploaded_files += 1
            self.results.uploaded_bytes += size

    def info(self, stored: Stored) -> None:
        response = self._call("info", "POST", "/api/files/info", self._expect_readable(stored, 200),
                              json={"token": stored.token})
        if response is not None and response.status_code == 200:
            body = response.json()
            if body.get("size") != stored.size:
                self.lost_or_corrupt(stored, f"info size {body.get('size')} != {stored.size}", lost=False)

    def retrieve(self, stored: Stored, endpoint: str = "retrieve") -> None:
        expect = self._expect_readable(stored, 200)
        for _attempt in range(MAX_429_RETRIES + 1):
            started = time.monotonic()
            try:
                with self.session.post(self.base + "/api/files/retrieve", json={"token": stored.token}, stream=True,
                                       timeout=REQUEST_TIMEOUT) as response:
                    digest, received = hashlib.sha256(), 0
                    if response.status_code == 200:
                        for piece in response.iter_content(PIECE):
                            digest.update(piece)
                            received += len(piece)
                    else:
                        response.content  # noqa: B018 - read the JSON error
            except requests.RequestException as exc:
                self.results.record(endpoint, time.monotonic() - started, "transport_error")
                self.results.problem(f"{endpoint}: {type(exc).__name__}: {str(exc)[:160]}")
                return
            self.results.record(endpoint, time.monotonic() - started, response.status_code)
            if not self.backoff(response):
                break
        if response.status_code == 404 and expect[0] == 200:
            self.lost_or_corrupt(stored, "retrieve answered 404 for a stored file", lost=True)
            return
        if expect == GONE and lease_still_open(response):
            self.results.count_lease_open()
            return
        if (response.status_code, error_code(response) if response.status_code != 200 else None) != expect:
            self.results.problem(f"{endpoint}: expected {expect}, got {response.status_code} {error_code(response)}")
            return
        if response.status_code == 200:
            with self.results.lock:
                self.results.downloaded_bytes += received
                self.results.verified_files += endpoint == "verify"
            if received != stored.size or digest.hexdigest() != stored.sha256:
                self.lost_or_corrupt(stored, f"{received} bytes, sha256 mismatch", lost=False)
            stored.downloads += 1

    def delete(self, stored: Stored) -> None:
        self.files.remove(stored)
        if self._call("delete", "POST", "/api/files/delete", (204, None), json={"token": stored.owner}) is None:
            return
        self._call("info", "POST", "/api/files/info", (404, "not_found"), json={"token": stored.token})

    def hostile(self) -> None:
        kind = self.rng.choice(["garbage", "tampered", "query", "multipart"])
        if kind == "garbage":
            token = self.rng.choice(["", "x" * self.rng.randrange(1, 5000), "....", "eyJ" + "A" * 300,
                                     secrets.token_urlsafe(200)])
            self._call("hostile", "POST", "/api/files/" + self.rng.choice(["info", "retrieve", "delete"]),
                       (400, "invalid_token") if token else (400, "invalid_token"), json={"token": token})
        elif kind == "tampered" and self.files:
            stored = self.rng.choice(self.files)
            self._call("hostile", "POST", "/api/files/" + self.rng.choice(["info", "retrieve", "delete"]),
                       (400, "invalid_token"), json={"token": tamper(self.rng.choice([stored.token, stored.owner]),
                                                                      self.rng)})
        elif kind == "query" and self.files:
            token = self.files[0].token
            self._call("hostile", "POST", f"/api/files/info?token={token}", (400, "bad_request"),
                       json={"token": token})
        else:
            body = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nno file here\r\n--b--\r\n"
            self._call("hostile", "POST", "/api/files", (400, "bad_request"), data=body,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})

    def backoff(self, response: requests.Response) -> bool:
        """With --tolerate-429, wait out a 429 (Retry-After, at most 5 s) and say so; else False."""
        if response.status_code != 429 or not self.tolerate_429:
            return False
        try:
            wait = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.1), 5.0))
        return True

    # -- expectations --

    def _expect_readable(self, stored: Stored, status: int) -> tuple[int, str | None]:
        if stored.max_downloads is not None and stored.downloads >= stored.max_downloads:
            return GONE
        return status, None

    def lost_or_corrupt(self, stored: Stored, why: str, *, lost: bool) -> None:
        with self.results.lock:
            if lost:
                self.results.lost += 1
            else:
                self.results.corrupted += 1
        self.results.problem(f"file seed={stored.seed} size={stored.size}: {why}")
        if stored in self.files:
            self.files.remove(stored)

    def verify_all(self) -> None:
        for stored in list(self.files):
            if self._expect_readable(stored, 200)[0] == 200:
                self.retrieve(stored, endpoint="verify")


# -- worker memory --------------------------------------------------------------------

class WorkerMonitor:
    """Samples RSS, threads and open fds of every gunicorn worker (children of the master) once a second."""

    def __init__(self, master_pid: int | None, interval: float = 1.0):
        self.master_pid, self.interval = master_pid, interval
        self.samples: dict[int, list[tuple[float, int, int, int]]] = defaultdict(list)
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-monitor", daemon=True)

    def start(self, boot_timeout: float = 60.0) -> WorkerMonitor:
        if self.master_pid:
            self._wait_until_booted(boot_timeout)
            self.sample()
            self._thread.start()
        return self

    def _wait_until_booted(self, timeout: float) -> None:
        """Until every worker has loaded the app, so the first sample is an idle worker, not one still importing.

        A worker has loaded the app once its memory maps cryptography's library (create_app imports it).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if workers and all(_loaded_the_app(worker) for worker in workers):
                return
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.master_pid:
            self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.master_pid).children(recursive=False)
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> None:
        now = time.monotonic() - self.t0
        for proc in self.workers():
            try:
                with proc.oneshot():
                    self.samples[proc.pid].append((now, proc.memory_info().rss, proc.num_threads(), proc.num_fds()))
            except psutil.Error:
                continue

    def report(self, warmup: float, slack: int) -> dict:
        workers = {}
        for pid, rows in self.samples.items():
            late = [(t, rss) for t, rss, _, _ in rows if t >= warmup]
            warm = max(r[1] for r in rows if r[0] <= warmup) if rows[0][0] <= warmup else rows[0][1]
            workers[str(pid)] = {
                "start_rss": rows[0][1], "warm_rss": warm, "peak_rss": max(r[1] for r in rows),
                "end_rss": rows[-1][1], "start_threads": rows[0][2], "end_threads": rows[-1][2],
                "start_fds": rows[0][3], "end_fds": rows[-1][3], "samples": len(rows),
                "first_seen": round(rows[0][0], 1), "last_seen": round(rows[-1][0], 1),
                "grew": rows[-1][1] > warm + slack or rows[-1][1] > rows[0][1] + slack,
                "second_half_trend_mib_per_min": round(_slope(late) * 60 / MIB, 2),
            }
        alive_at_end = {str(p.pid) for p in self.workers()}
        died = sorted(pid for pid in workers if pid not in alive_at_end)
        return {"measured": bool(self.master_pid and workers), "workers": workers, "died": died,
                "timeline": {str(pid): [(round(t, 1), rss) for t, rss, _, _ in rows[:: max(1, len(rows) // 60)]]
                             for pid, rows in self.samples.items()}}


def _loaded_the_app(worker: psutil.Process) -> bool:
    try:
        return any("cryptography" in mapped.path for mapped in worker.memory_maps())
    except psutil.Error:
        return False


def _slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, bytes); 0 for fewer than 3 points."""
    if len(points) < 3:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread if spread else 0.0


# -- servers ----------------------------------------------------------------------------

def is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_gunicorn_master(base_url: str) -> int | None:
    """The gunicorn master listening on the URL's port, if it is on this machine (needs root for others' sockets)."""
    port = urlsplit(base_url).port or 80
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            proc = psutil.Process(conn.pid)
            if "gunicorn" in " ".join(proc.cmdline()):
                parent = proc.parent()
                is_worker = parent is not None and "gunicorn" in " ".join(parent.cmdline())
                return parent.pid if is_worker else proc.pid
    return None


class OwnServer:
    """The server this script starts when given no base URL: the real stack, or a bare gunicorn."""

    def __init__(self, max_size: int, workers: int, caps: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="anon-hosting-soak-"))
        self.caps = caps  # nginx's per-address connection caps on (rates stay off): abusers are running
        self.env = {**NO_RATE_LIMITS, "ANON_HOSTING_ENV_FILE": "/dev/null",
                    "SECRET_KEY": secrets.token_urlsafe(48), "MAX_UPLOAD_BYTES": str(max(max_size, MIB)),
                    "WEB_CONCURRENCY": str(workers), "SWEEP_INTERVAL": "60"}
        if caps:  # the abusers' slow readers download a 32 MiB file (bench/abuse.py BIG_FILE)
            self.env["MAX_UPLOAD_BYTES"] = str(max(int(self.env["MAX_UPLOAD_BYTES"]), 32 * MIB))
        self.stack = None
        self.process: subprocess.Popen | None = None
        self.kind = ""

    def start(self) -> str:
        if (REPO / "scripts" / "stack.py").is_file():
            sys.path.insert(0, str(REPO / "scripts"))
            from stack import NGINX_LIMITS, NO_NGINX_LIMITS, Stack  # noqa: PLC0415 - optional, only when present
            caps = {k: NGINX_LIMITS[k] for k in ("CONN_PER_IP", "TRANSFERS_PER_IP") if k in NGINX_LIMITS}
            limits = {**NO_NGINX_LIMITS, **caps} if self.caps else None
            self.stack = Stack(storage_dir=self.root / "files", private_dir=self.root / "private",
                               workdir=self.root / "work", env=self.env, nginx_limits=limits)
            self.stack.start(timeout=60)
            self.kind = ("scripts/stack.py Stack: nginx + gunicorn" if self.stack.use_nginx
                         else "scripts/stack.py Stack: gunicorn alone (nginx not installed)")
            return self.stack.url
        return self._start_gunicorn()

    def _start_gunicorn(self) -> str:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, **self.env, "ENCRYPTED_FILE_STORAGE": str(self.root / "files"),
               "PRIVATE_FOLDER": str(self.root / "private")}
        log = open(self.root / "gunicorn.log", "ab")  # noqa: SIM115 - kept open while gunicorn runs
        command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
        self.process = subprocess.Popen(command, cwd=REPO / "backend", env=env, stdout=log,  # noqa: S603 - our gunicorn
                                        stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/api/health", timeout=2).status_code == 200:
                    self.kind = "bare gunicorn (scripts/stack.py not found)"
                    return url
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    @property
    def master_pid(self) -> int | None:
        if self.stack is not None:
            return self.stack.gunicorn.pid
        return self.process.pid if self.process else None

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


# -- the run ----------------------------------------------------------------------------

def parse_size(text: str) -> int:
    text = text.strip().lower().removesuffix("b")
    for suffix, factor in (("ki", KIB), ("mi", MIB), ("gi", 1 << 30), ("k", KIB), ("m", MIB), ("g", 1 << 30)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def soak(base_url: str, *, clients: int, duration: float, max_size: int, seed: int, hostile_share: float,
         master_pid: int | None, rss_slack: int, target: str, tolerate_429: bool = False,
         settle: float = 12.0, abusers: int = 0) -> dict:
    results = Results()
    warmup = duration / 2
    monitor = WorkerMonitor(master_pid).start()
    background = Abusers(base_url, abusers) if abusers else None
    started = time.monotonic()
    deadline = started + duration
    workers = [Client(i, base_url, max_size, seed, hostile_share, results, deadline, tolerate_429,
                      client_address(i) if abusers else None) for i in range(clients)]
    threads = [threading.Thread(target=c.run, name=f"client-{c.number}", daemon=True) for c in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
    load_seconds = time.monotonic() - started
    held = background.stop() if background else []
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        results.problem(f"{stuck} client thread(s) still busy {REQUEST_TIMEOUT} s after the deadline")
    verify = [threading.Thread(target=c.verify_all, daemon=True) for c in workers]
    for thread in verify:
        thread.start()
    for thread in verify:
        thread.join(REQUEST_TIMEOUT)
    for client in workers:
        client.session.close()  # the server then closes its side of every keep-alive connection
    time.sleep(settle)  # idle: the workers' malloc trims (every 5 s) give back what the load took
    monitor.stop()
    memory = monitor.report(monitor_offset(monitor, started) + warmup, rss_slack)
    return summarize(results, memory, target=target, base_url=base_url, clients=clients, duration=duration,
                     load_seconds=load_seconds, max_size=max_size, seed=seed, rss_slack=rss_slack, warmup=warmup,
                     settle=settle, abusers=abusers, abusers_held=held)


READER_ADDRESS = "127.0.0.2"  # the slow readers' own: from 127.0.0.1 the slow bodies already use its 20 requests


class Abusers:
    """bench/abuse.py's two attacks in the background (bodies from 127.0.0.1, downloads from 127.0.0.2), renewed
    every ``RENEW`` seconds (nginx ends stalled ones after its 60-s idle timeouts); ``held`` records what each
    round held in progress before its renewal."""

    RENEW = 30.0

    def __init__(self, base_url: str, connections: int):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import abuse  # noqa: PLC0415 - a sibling script, only needed with --abusers

        self._abuse, self._connections = abuse, connections
        self._port = urlsplit(base_url).port or 80
        self._token = abuse.upload(self._port, abuse.BIG_FILE, abuse.ATTACKER)
        self.held: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="abusers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            attacks = [self._abuse.SlowBodies(self._port, self._connections),
                       self._abuse.SlowReaders(self._port, self._connections, self._token, source=READER_ADDRESS)]
            self._stop.wait(self.RENEW)
            self.held.append(tuple(attack.held() for attack in attacks))
            for attack in attacks:
                attack.close()

    def stop(self) -> list[tuple[int, int]]:
        self._stop.set()
        self._thread.join(60)
        return self.held


def monitor_offset(monitor: WorkerMonitor, started: float) -> float:
    return started - monitor.t0


def summarize(results: Results, memory: dict, **run) -> dict:
    endpoints = {}
    for name in ENDPOINTS:
        values = results.latencies.get(name, [])
        if values:
            endpoints[name] = {"requests": len(values), "codes": dict(results.codes[name]),
                               "p50_ms": round(percentile(values, 50) * 1000, 1),
                               "p95_ms": round(percentile(values, 95) * 1000, 1),
                               "p99_ms": round(percentile(values, 99) * 1000, 1)}
    grew = [pid for pid, w in memory["workers"].items() if w["grew"]]
    goals = {
        "no_lost_files": results.lost == 0,
        "no_corrupted_files": results.corrupted == 0,
        "no_5xx": results.server_errors == 0,
        "no_unexpected_answers": not results.unexpected,
        "no_worker_died": not memory["died"],
        "rss_does_not_grow": (not grew) if memory["measured"] else None,
    }
    return {
        "run": run, "requests": results.requests, "server_errors": results.server_errors,
        "unexpected": len(results.unexpected), "unexpected_samples": results.unexpected[:20],
        "lease_still_open": results.lease_open,
        "files": {"uploaded": results.uploaded_files, "verified_at_end": results.verified_files,
                  "lost": results.lost, "corrupted": results.corrupted},
        "bytes": {"uploaded": results.uploaded_bytes, "downloaded_and_checked": results.downloaded_bytes},
        "endpoints": endpoints, "memory": memory, "goals": goals,
        "passed": all(v is not False for v in goals.values()),
    }


def print_table(report: dict) -> None:
    run = report["run"]
    print(f"\nAnon Hosting soak against {run['base_url']} ({run['target']})")
    print(f"{run['clients']} clients, {run['load_seconds']:.0f} s of load, sizes up to {run['max_size'] // MIB} MiB, "
          f"seed {run['seed']}")
    print(f"requests {report['requests']}, 5xx {report['server_errors']}, unexpected {report['unexpected']}, "
          f"files uploaded {report['files']['uploaded']}, lost {report['files']['lost']}, "
          f"corrupted {report['files']['corrupted']}, checked at the end {report['files']['verified_at_end']}")
    print(f"answers from a lease still open right after the last allowed download: {report['lease_still_open']}")
    if run.get("abusers"):
        print(f"abusers from 127.0.0.1 and .2: {run['abusers']} slow-body and {run['abusers']} slow-download "
              f"connections (renewed every {Abusers.RENEW:.0f} s); requests they held in progress, "
              f"(bodies, downloads) per round: {run['abusers_held']}")
    print(f"bytes uploaded {report['bytes']['uploaded'] / MIB:.0f} MiB, downloaded and checked "
          f"{report['bytes']['downloaded_and_checked'] / MIB:.0f} MiB\n")
    print(f"{'endpoint':<10}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}  codes")
    for name, e in report["endpoints"].items():
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(e["codes"].items()))
        print(f"{name:<10}{e['requests']:>10}{e['p50_ms']:>10}{e['p95_ms']:>10}{e['p99_ms']:>10}  {codes}")
    memory = report["memory"]
    if memory["measured"]:
        print(f"\n{'worker':<10}{'start MiB':>10}{'warm MiB':>10}{'peak MiB':>10}{'end MiB':>10}"
              f"{'MiB/min':>9}{'threads':>10}{'fds':>10}")
        for pid, w in memory["workers"].items():
            print(f"{pid:<10}{w['start_rss'] / MIB:>10.1f}{w['warm_rss'] / MIB:>10.1f}{w['peak_rss'] / MIB:>10.1f}"
                  f"{w['end_rss'] / MIB:>10.1f}{w['second_half_trend_mib_per_min']:>9}"
                  f"{w['start_threads']:>5}->{w['end_threads']:<4}"
                  f"{w['start_fds']:>5}->{w['end_fds']:<4}")
    else:
        print("\nworker RSS: not measured (no gunicorn master PID found; pass --server-pid)")
    for text in report["unexpected_samples"]:
        print("  unexpected:", text)
    print("\ngoals: " + ", ".join(f"{k}={'n/a' if v is None else ('ok' if v else 'MISSED')}"
                                  for k, v in report["goals"].items()))
    print("PASSED" if report["passed"] else "FAILED")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", nargs="?", help="e.g. http://127.0.0.1:8080 (loopback only); "
                                                    "default: start the stack here")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    parser.add_argument("--max-size", type=parse_size, default=50 * MIB, help="largest upload (default 50MiB)")
    parser.add_argument("--hostile-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--server-pid", type=int, help="gunicorn master PID, for worker RSS (found when local)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of a self-started server")
    parser.add_argument("--rss-slack", type=parse_size, default=20 * MIB,
                        help="allowed growth of the idle RSS at the end over the idle start and the first-half high")
    parser.add_argument("--settle", type=float, default=12.0,
                        help="idle seconds after the load before the last RSS sample (default 12: two trims)")
    parser.add_argument("--abusers", type=int, default=0,
                        help="hold this many slow-body (from 127.0.0.1) and slow-download (127.0.0.2) connections "
                             "throughout (bench/abuse.py); clients then come from 127.0.1.x and a self-started "
                             "stack keeps nginx's per-address connection caps")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--tolerate-429", action="store_true",
                        help="for a server with rate limits on (e.g. nginx's): wait out each 429 (Retry-After, at "
                             "most 5 s, 5 times) and report the 429s instead of counting them as unexpected")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.max_size < KIB:
        print("soak: --clients >= 1, --duration > 0 and --max-size >= 1KiB", file=sys.stderr)
        return 2
    own = None
    base_url = args.base_url
    if base_url is None:
        own = OwnServer(args.max_size, args.workers, caps=args.abusers > 0)
        try:
            base_url = own.start()
        except Exception as exc:  # noqa: BLE001 - any start-up failure is reported the same way
            own.stop()
            print(f"soak: could not start a server: {exc}", file=sys.stderr)
            return 2
        target = own.kind
        master = own.master_pid
    else:
        if not is_loopback(base_url):
            print(f"soak: {base_url} is not a loopback address; this script only loads servers on this machine",
                  file=sys.stderr)
            return 2
        target = "given base URL"
        master = args.server_pid or find_gunicorn_master(base_url)
    print(f"soak: {args.clients} clients for {args.duration:.0f} s against {base_url} ({target})", flush=True)
    try:
        report = soak(base_url, clients=args.clients, duration=args.duration, max_size=args.max_size,
                      seed=args.seed, hostile_share=args.hostile_share, master_pid=master,
                      rss_slack=args.rss_slack, target=target, tolerate_429=args.tolerate_429,
                      settle=args.settle, abusers=args.abusers)
    finally:
        if own is not None:
            own.stop()
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
