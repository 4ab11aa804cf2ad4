"""Load and soak: N concurrent clients for D seconds against one Anon Hosting base URL, every byte checked.

    .venv/bin/python bench/soak.py [BASE_URL] [--clients 64] [--duration 600] [--max-size 50MiB]
                                   [--server-pid PID] [--json PATH] [--seed N] [--abusers 64]

Contract: ``main(argv) -> int`` runs a bounded soak and returns 0 when every goal
is met, 1 otherwise (2 for a usage or start-up error). Traffic goes only to
BASE_URL, which must be a loopback address; without one the script starts the
real stack itself on loopback ports and temporary folders (scripts/stack.py
``Stack``: nginx + gunicorn, or gunicorn alone when nginx is missing) and says
which. Each client (bench/soak_client.py) loops over
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
the second half (least squares, MiB per minute) and a timeline (bench/soak_report.py). Without a
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
import ipaddress
import json
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "scripts")]

from soak_client import REQUEST_TIMEOUT, Client, client_address  # noqa: E402
from soak_report import ABUSE_RENEW, Results, WorkerMonitor, print_table, summarize  # noqa: E402
from stack import NGINX_LIMITS, NO_NGINX_LIMITS, Stack  # noqa: E402

KIB, MIB = 1 << 10, 1 << 20
NO_RATE_LIMITS = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "RATE_LIMIT_PASSPHRASES": "0",
                  "RATE_LIMIT_PASSPHRASE_REQUESTS": "0", "RATE_LIMIT_UPLOAD_PASSWORD": "0"}


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
    """The server this script starts when given no base URL: scripts/stack.py's stack."""

    def __init__(self, max_size: int, workers: int, caps: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="anon-hosting-soak-"))
        env = {**NO_RATE_LIMITS, "ANON_HOSTING_ENV_FILE": "/dev/null",
               "SECRET_KEY": secrets.token_urlsafe(48), "MAX_UPLOAD_BYTES": str(max(max_size, MIB)),
               "WEB_CONCURRENCY": str(workers), "SWEEP_INTERVAL": "60"}
        if caps:  # the abusers' slow readers download a 32 MiB file (bench/abuse.py BIG_FILE)
            env["MAX_UPLOAD_BYTES"] = str(max(int(env["MAX_UPLOAD_BYTES"]), 32 * MIB))
        # With abusers running, nginx keeps its per-address connection caps (the rates stay off).
        limits = {**NO_NGINX_LIMITS, **{k: NGINX_LIMITS[k] for k in ("CONN_PER_IP", "TRANSFERS_PER_IP")}}
        self.stack = Stack(storage_dir=self.root / "files", private_dir=self.root / "private",
                           workdir=self.root / "work", env=env, nginx_limits=limits if caps else None)

    def start(self) -> str:
        self.stack.start(timeout=60)
        return self.stack.url

    @property
    def kind(self) -> str:
        return ("scripts/stack.py Stack: nginx + gunicorn" if self.stack.use_nginx
                else "scripts/stack.py Stack: gunicorn alone (nginx not installed)")

    @property
    def master_pid(self) -> int | None:
        return self.stack.gunicorn.pid if self.stack.gunicorn else None

    def stop(self) -> None:
        self.stack.stop()
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

    RENEW = ABUSE_RENEW

    def __init__(self, base_url: str, connections: int):
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
