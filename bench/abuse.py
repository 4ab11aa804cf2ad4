"""Slow and stalled clients against the real stack: does everyone else still get answers?

    .venv/bin/python bench/abuse.py [--connections 64] [--probes 200] [--json PATH]

Contract: ``main(argv) -> int`` starts the real stack (scripts/stack.py ``Stack``:
nginx + gunicorn, default limits, temporary folders, loopback ports), then runs
two attacks from 127.0.0.1, each with ``--connections`` connections held open:

- ``bodies``: requests to info, retrieve and upload that announce a body and
  send 11 bytes of it; half then stall, half trickle one byte every second;
- ``readers``: downloads of a 32 MiB file through a 4 KiB receive window; half
  read nothing, half read 1 KiB a second.

While an attack holds its connections, probes from other loopback addresses
(127.0.0.2 and up, a new one every ``PROBES_PER_ADDRESS`` uploads so nginx's
per-address upload rate is never what is measured) time ``GET /api/health``
and a 4 KiB upload plus its retrieve. It prints p50/p99/max per probe kind and
attack, with how many of the attack's requests were in progress meanwhile
(``held``), and exits 1 unless every probe succeeded and p99 is under ``--goal``
seconds (1 s). Traffic stays on 127.0.0.0/8.

``SlowBodies``, ``SlowReaders`` and ``Probe`` are shared with
backend/tests/integration/test_slow_clients.py and bench/soak.py (``--abusers``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ATTACKER = "127.0.0.1"
KIB, MIB = 1024, 1024 * 1024
SMALL_FILE = 4 * KIB
BIG_FILE = 32 * MIB  # more than the socket buffers between gunicorn, nginx and a client can absorb
PROBES_PER_ADDRESS = 8  # under nginx's upload burst (10) and the app's per-process rate
TIMEOUT = 30.0


def _connect(port: int, source: str, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
    sock.bind((source, 0))
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    return sock


def _peek(sock: socket.socket, size: int) -> bytes | None:
    """The first bytes of the answer without consuming them: None while there are none, b"" once closed."""
    sock.setblocking(False)
    try:
        return sock.recv(size, socket.MSG_PEEK)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    finally:
        sock.settimeout(TIMEOUT)


class _Held:
    """Connections held open by one attacker, with a thread doing the slow part on half of them."""

    def __init__(self):
        self.socks: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for sock in self.socks[::2]:
                try:
                    self._slow_step(sock)
                except OSError:
                    continue

    def _slow_step(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def held(self) -> int:
        """Requests still in progress: connections that have had no answer yet (not a status line, not a close)."""
        return sum(_peek(sock, 1) is None for sock in self.socks)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.socks:
            sock.close()


class SlowBodies(_Held):
    """Requests that announce a body and send 11 bytes of it: to info, retrieve and upload in turn."""

    TARGETS = (("/api/files/info", "application/json", 500), ("/api/files/retrieve", "application/json", 500),
               ("/api/files", "application/octet-stream", MIB))

    def __init__(self, port: int, connections: int, source: str = ATTACKER):
        super().__init__()
        for n in range(connections):
            path, ctype, length = self.TARGETS[n % len(self.TARGETS)]
            sock = _connect(port, source)
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {ctype}\r\n"
                         f"X-File-Name: slow.bin\r\nContent-Length: {length}\r\n\r\n".encode() + b'{"token": "')
            self.socks.append(sock)
        self._thread.start()

    def _slow_step(self, sock: socket.socket) -> None:
        sock.send(b"a")


class SlowReaders(_Held):
    """Downloads of one file through a tiny receive window: half read nothing, half 1 KiB a second."""

    def __init__(self, port: int, connections: int, token: str, source: str = ATTACKER):
        super().__init__()
        self._heads: dict[socket.socket, bytes] = {}  # the answers' first bytes, as read by the slow readers
        body = json.dumps({"token": token}).encode()
        for _ in range(connections):
            sock = _connect(port, source, rcvbuf=4 * KIB)
            sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            self.socks.append(sock)
        self._thread.start()

    def _slow_step(self, sock: socket.socket) -> None:
        sock.settimeout(0.05)
        try:
            data = sock.recv(KIB)
        except TimeoutError:
            return
        finally:
            sock.settimeout(TIMEOUT)
        self._heads.setdefault(sock, data[:12])

    def held(self) -> int:
        """Downloads in progress: answers that are a 200 (none can finish at 1 KiB/s)."""
        heads = [self._heads.get(sock) or _peek(sock, 12) or b"" for sock in self.socks]
        return sum(head.startswith(b"HTTP/1.1 200") for head in heads)


class Probe:
    """Requests from addresses other than the attacker's, timed; ``failures`` lists what went wrong."""

    def __init__(self, port: int, first_address: int = 2, timeout: float = TIMEOUT):
        self.port, self._next, self.timeout = port, first_address, timeout
        self.source, self._uses = self._address(), 0
        self.health: list[float] = []
        self.transfer: list[float] = []
        self.failures: list[str] = []

    def _address(self) -> str:
        address = f"127.0.0.{self._next}"
        self._next += 1
        return address

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout,
                                          source_address=(self.source, 0))
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def check_health(self) -> None:
        started = time.monotonic()
        try:
            status, body = self._request("GET", "/api/health")
        except OSError as exc:
            self.failures.append(f"health: {type(exc).__name__} after {time.monotonic() - started:.1f} s")
            return
        self.health.append(time.monotonic() - started)
        if status != 200:
            self.failures.append(f"health: {status} {body[:200]!r}")

    def check_transfer(self) -> None:
        if self._uses == PROBES_PER_ADDRESS:
            self.source, self._uses = self._address(), 0
        self._uses += 1
        data = secrets.token_bytes(SMALL_FILE)
        started = time.monotonic()
        try:
            status, body = self._request("POST", "/api/files", data, {
                "Content-Type": "application/octet-stream", "X-File-Name": "probe.bin"})
            if status != 201:
                self.failures.append(f"upload: {status} {body[:200]!r}")
                return
            token = json.loads(body)["token"]
            status, body = self._request("POST", "/api/files/retrieve", json.dumps({"token": token}).encode(),
                                         {"Content-Type": "application/json"})
        except OSError as exc:
            self.failures.append(f"transfer: {type(exc).__name__} after {time.monotonic() - started:.1f} s")
            return
        self.transfer.append(time.monotonic() - started)
        if status != 200 or body != data:
            self.failures.append(f"retrieve: {status}, {len(body)} bytes, {'same' if body == data else 'different'}")


def upload(port: int, size: int, source: str) -> str:
    """Upload ``size`` random bytes from ``source``; returns the download token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    try:
        conn.request("POST", "/api/files", body=secrets.token_bytes(size),
                     headers={"Content-Type": "application/octet-stream", "X-File-Name": "big.bin"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"the setup upload failed: {response.status} {body[:200]!r}")
    return json.loads(body)["token"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def run(stack, connections: int, probes: int) -> dict:
    port, report = stack.web_port, {}
    token = upload(port, BIG_FILE, "127.0.0.250")
    attacks = {"bodies": lambda: SlowBodies(port, connections),
               "readers": lambda: SlowReaders(port, connections, token)}
    for first, (name, start) in zip((2, 120), attacks.items(), strict=True):
        held = start()
        try:
            time.sleep(1.0)  # let nginx pass what it lets through to gunicorn
            probe = Probe(port, first)
            in_progress = held.held()
            for n in range(probes):
                probe.check_health()
                if n % 4 == 0:
                    probe.check_transfer()
            report[name] = {"held": in_progress, "failures": probe.failures[:20], **{
                kind: {"n": len(v), "p50_ms": round(percentile(v, 50) * 1000, 1),
                       "p99_ms": round(percentile(v, 99) * 1000, 1), "max_ms": round(max(v, default=0) * 1000, 1)}
                for kind, v in (("health", probe.health), ("upload_retrieve", probe.transfer))}}
        finally:
            held.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--probes", type=int, default=200, help="health probes per attack (a transfer every 4th)")
    parser.add_argument("--goal", type=float, default=1.0, help="p99 in seconds that every probe kind must meet")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "scripts"))
    from stack import Stack

    root = Path(tempfile.mkdtemp(prefix="anon-hosting-abuse-"))
    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48)}
    with Stack(storage_dir=root / "files", private_dir=root / "private", workdir=root / "work", env=env) as stack:
        if not stack.use_nginx:
            print("nginx is not installed: this measures the nginx + gunicorn stack", file=sys.stderr)
            return 2
        report = run(stack, args.connections, args.probes)
    print(f"{'attack':<9}{'held':>6}  {'probe':<16}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    ok = True
    for attack, r in report.items():
        for kind in ("health", "upload_retrieve"):
            k = r[kind]
            print(f"{attack:<9}{r['held']:>6}  {kind:<16}{k['n']:>5}{k['p50_ms']:>9}{k['p99_ms']:>9}"
                  f"{k['max_ms']:>9}")
            ok = ok and k["n"] > 0 and k["p99_ms"] <= args.goal * 1000
        for failure in r["failures"]:
            print(f"  {attack}: {failure}")
        ok = ok and not r["failures"]
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print("goal met" if ok else f"goal missed (p99 over {args.goal} s, or a probe failed)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
