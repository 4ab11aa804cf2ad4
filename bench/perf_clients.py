"""The measuring hands of bench/perf.py: curl transfers, the small-file client, AES-GCM, worker RSS.

Contract: ``upload``/``download``/``fetch`` run one curl each and return the
transfer's seconds (curl's own ``time_total``), raising RuntimeError on any
answer but the expected one or a size mismatch; ``aes_gcm(n)`` returns the
sealing and opening throughput (bytes/s) of n bytes in 1 MiB chunks;
``small_files(url, clients, seconds)`` returns round trips/s, p50 and p99 (s);
worker RSS is sampled by stacklib.memory's ``RssSampler``;
``file_creation_us(folder)`` returns the kernel's CPU microseconds per new file
there, right now (docs/performance.md, "The file system").
Traffic goes only to the loopback URLs given.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MIB = 1 << 20
SMALL = 4096


def _curl(args: list[str], stdin: bytes | None = None) -> tuple[str, int, float]:
    cmd = ["curl", "-sS", "--noproxy", "*", "-w", "\n%{http_code} %{time_total}", *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, check=False)  # noqa: S603 - our own arguments
    if done.returncode != 0:
        raise RuntimeError(f"curl failed: {done.stderr.decode(errors='replace').strip()}")
    body, _, tail = done.stdout.decode().rpartition("\n")
    status, seconds = tail.split()
    return body, int(status), float(seconds)


def upload(base: str, path: Path) -> tuple[float, dict]:
    body, status, seconds = _curl(["-T", str(path), "-X", "POST", "-H", "Content-Type: application/octet-stream",
                                   "-H", "X-File-Name: bench.bin", "-H", "Expect:", f"{base}/api/files"])
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {body[:200]}")
    return seconds, json.loads(body)


def download(base: str, token: str, out: Path, size: int) -> float:
    _, status, seconds = _curl(["-o", str(out), "-X", "POST", "-H", "Content-Type: application/json",
                                "--data-binary", "@-", f"{base}/api/files/retrieve"],
                               stdin=json.dumps({"token": token}).encode())
    _check(out, status, size)
    return seconds


def fetch(url: str, out: Path, size: int) -> float:
    _, status, seconds = _curl(["-o", str(out), url])
    _check(out, status, size)
    return seconds


def _check(out: Path, status: int, size: int) -> None:
    got = out.stat().st_size
    out.unlink()
    if status != 200 or got != size:
        raise RuntimeError(f"download answered {status} with {got} bytes, expected {size}")


def delete(base: str, owner_token: str) -> None:
    _, status, _ = _curl(["-o", "/dev/null", "-X", "POST", "-H", "Content-Type: application/json",
                          "--data-binary", "@-", f"{base}/api/files/delete"],
                         stdin=json.dumps({"token": owner_token}).encode())
    if status != 204:
        raise RuntimeError(f"delete answered {status}")


def aes_gcm(total: int) -> tuple[float, float]:
    """Seal then open ``total`` bytes as 1 MiB chunks with one key: the library's own speed."""
    aead, nonce, chunk = AESGCM(os.urandom(32)), bytes(12), os.urandom(MIB)
    count = max(1, total // MIB)
    started = time.perf_counter()
    for _ in range(count):
        sealed = aead.encrypt(nonce, chunk, b"h")
    sealing = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        aead.decrypt(nonce, sealed, b"h")
    opening = time.perf_counter() - started
    return count * MIB / sealing, count * MIB / opening


def file_creation_us(folder: Path, count: int = 200) -> float:
    """CPU microseconds (user + system) of one ``open(O_CREAT | O_EXCL)`` of a new file in ``folder``.

    An upload creates two files; on an ext4 without a journal, as on these machines, each costs
    about 30 us, or 1 to 1.5 ms while inodes freed in the last minutes are near (the allocator skips
    them one by one). The probe files are kept, not deleted, so the probe does not cause what it
    measures; they go with the bench's folder at the end."""
    probe = folder / f".create-probe-{time.monotonic_ns()}"
    probe.mkdir()
    before = time.thread_time()  # this thread's user + system CPU, in ns steps (os.times() counts 10 ms ticks)
    for i in range(count):
        os.close(os.open(probe / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return (time.thread_time() - before) * 1e6 / count


def cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds so far of each group of processes (and their children)."""
    totals = {}
    for name, pids in groups.items():
        total = 0.0
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                for p in [proc] if pid == os.getpid() else [proc, *proc.children(recursive=True)]:
                    times = p.cpu_times()
                    total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        totals[name] = total
    return totals


def worker_settings(conf: Path) -> dict:
    values = runpy.run_path(str(conf))
    settings = {k: values.get(k) for k in ("worker_class", "workers", "threads")}
    if isinstance(settings["worker_class"], type):  # our own subclass of a stock worker
        settings["worker_class"] = settings["worker_class"].__name__
    return settings


def wait_ready(url: str, timeout: float) -> None:
    """Poll ``url`` until it answers 200, or raise RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback URL we built
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


# -- small files -------------------------------------------------------------------------


class _Connection:
    """A minimal keep-alive HTTP/1.1 client: cheap enough that 32 of them leave the CPU to the server."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.address, self.host = (parts.hostname, parts.port), f"{parts.hostname}:{parts.port}"
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, path: str, content_type: str, body: bytes, extra: str = "") -> tuple[int, bytes]:
        if self.sock is None:  # first request, or the server said Connection: close (nginx does every 1000)
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n{extra}\r\n")
        self.sock.sendall(head.encode() + body)
        status, headers, answer = self._response()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if "content-length" in headers:
            return status, headers, self._take(int(headers["content-length"]))
        body = b""
        while True:  # chunked
            while b"\r\n" not in self.buffer:
                self._fill()
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            chunk = self._take(size + 2)[:size]
            if size == 0:
                return status, headers, body
            body += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buffer += data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _round_trip(conn: _Connection, payload: bytes) -> None:
    status, body = conn.post("/api/files", "application/octet-stream", payload, "X-File-Name: small.bin\r\n")
    if status != 201:
        raise RuntimeError(f"small upload answered {status}: {body[:200]!r}")
    token = json.loads(body)["token"]
    status, body = conn.post("/api/files/retrieve", "application/json", json.dumps({"token": token}).encode())
    if status != 200 or body != payload:
        raise RuntimeError(f"small retrieve answered {status} with {len(body)} bytes")


def small_files(base: str, clients: int, seconds: float, cpu_groups: dict[str, list[int]]) -> dict:
    """``clients`` threads loop upload + retrieve of 4 KiB for ``seconds``; every round trip is timed.

    Also returns the CPU milliseconds per round trip of each group of processes in ``cpu_groups``."""
    latencies: list[float] = []
    errors: list[BaseException] = []
    deadline = [float("inf")]

    cpu_before: dict[str, float] = {}

    def go() -> None:  # runs once all clients are warm, before any is released
        cpu_before.update(cpu_seconds(cpu_groups))
        deadline[0] = time.perf_counter() + seconds

    start = threading.Barrier(clients + 1, action=go)

    def client() -> None:
        conn, payload, mine = _Connection(base), os.urandom(SMALL), []
        try:
            _round_trip(conn, payload)  # warm: connection, worker thread
            start.wait()
            while time.perf_counter() < deadline[0]:
                began = time.perf_counter()
                _round_trip(conn, payload)
                mine.append(time.perf_counter() - began)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            start.abort()
        finally:
            conn.close()
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a client failed; reported below
        start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - (deadline[0] - seconds)
    cpu_after = cpu_seconds(cpu_groups)
    if errors:
        raise RuntimeError(f"small files with {clients} clients: {errors[0]!r}")
    ordered = sorted(latencies)
    return {"rate": len(ordered) / elapsed, "p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            **{f"cpu_ms_{k}": (cpu_after[k] - cpu_before[k]) * 1000 / max(1, len(ordered)) for k in cpu_groups}}
