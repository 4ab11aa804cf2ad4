"""Instructions per small-file round trip, counted by valgrind: a figure the machine's noise cannot move.

    .venv/bin/python bench/instructions.py [--round-trips 400]

Contract: ``main(argv) -> int`` prints, for the real app and for the two floors of
bench/bare_app.py (bare Flask; Flask plus only the work a round trip requires), the
user-space instructions one gunicorn worker executes per small-file round trip (upload
4 KiB raw + retrieve it), their ratio, and the instructions of the token operations a
round trip needs (two ``tokens.issue``, one ``tokens.verify``: jwcrypto, in one process).
It asserts nothing; exit 1 when valgrind is missing or a server does not answer.

Why: bench/perf.py's CPU figures swing by a third from one minute to the next on a shared
machine, more than most single optimisations are worth. valgrind's cachegrind counts the
instructions a process executes, the same on every run (within 0.2 % here). Each app runs
as one gunicorn worker with our gunicorn.conf.py under cachegrind, reached straight over
loopback (no nginx) by one client, one round trip at a time; a run of N + 10 round trips
minus a run of 10, divided by N, cancels start-up and imports. N must be large enough to
spread Python's full garbage collections, which come in steps of tens of millions of
instructions: N = 50 gave 6.9 M for ours, N = 100 and 400 gave 5.21 and 5.22 M (with the
collector frozen after start-up, N = 50 gave 5.24 M: that was the step). Kernel work (fsync, file
creation, sockets) is not counted, nor time spent waiting: this is the Python-side cost,
which is what bounds the small-file rate once the two cores are busy (docs/performance.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = REPO / ".venv" / "bin" / "python"
sys.path.insert(0, str(REPO / "scripts"))

from stacklib.processes import free_port, gunicorn_command, launch  # noqa: E402

WARM = 10  # round trips in the short run, whose count is subtracted
PAYLOAD = b"\0" * 4096
APPS = {"ours": "anon_hosting:create_app()", "bare": "bare_app:create_app()",
        "required": "bare_app:create_app(required_work=True)"}
SEAL_AND_OPEN = """
import sys, tempfile
from pathlib import Path
from anon_hosting import tokens
from anon_hosting.keys import KeyRing
ring = KeyRing(Path(tempfile.mkdtemp()) / "private", "s" * 40)
claims = tokens.FileClaims("small.bin", "A" * 43, bytes(32), 1700000000, 1800000000)
token = tokens.issue(claims, ring)
for _ in range(int(sys.argv[1])):
    tokens.issue(claims, ring), tokens.issue(claims, ring), tokens.verify(token, ring)
"""


def cachegrind(cmd: list[str], out: Path) -> list[str]:
    return ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}.%p", *cmd]


def counts(prefix: Path) -> list[int]:
    """The instruction totals of every process of one run (gunicorn's master and its worker)."""
    found = []
    for path in prefix.parent.glob(prefix.name + ".*"):
        match = re.search(r"^summary: (\d+)", path.read_text(), re.MULTILINE)
        if match:
            found.append(int(match.group(1)))
    return found


def worker_run(app: str, round_trips: int, root: Path) -> int:
    """Instructions of the worker over one run: start under cachegrind, health check, round trips, stop."""
    port, folder = free_port(), Path(tempfile.mkdtemp(dir=root))
    env = {**os.environ, "ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
           "ENCRYPTED_FILE_STORAGE": str(folder / "files"), "PRIVATE_FOLDER": str(folder / "private"),
           "BARE_APP_DIR": str(folder), "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0",
           "SWEEP_INTERVAL": "0", "WEB_CONCURRENCY": "1", "PYTHONPATH": str(BENCH)}
    gunicorn = [str(PYTHON), *gunicorn_command(f"127.0.0.1:{port}", gunicorn=REPO / ".venv" / "bin" / "gunicorn",
                                                app=app)]  # python itself, so that valgrind follows the interpreter
    server = launch(cachegrind(gunicorn, folder / "cg"), folder / "gunicorn.log", env=env)
    try:
        conn = _connect(port, server)
        for _ in range(round_trips):
            conn.request("POST", "/api/files", body=PAYLOAD,
                         headers={"Content-Type": "application/octet-stream", "X-File-Name": "small.bin"})
            answer = conn.getresponse()
            token = json.loads(answer.read())["token"]
            conn.request("POST", "/api/files/retrieve", body=json.dumps({"token": token}),
                         headers={"Content-Type": "application/json"})
            if conn.getresponse().read() != PAYLOAD:
                raise RuntimeError(f"{app}: a retrieve did not give the upload back")
        conn.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(300)
    return max(counts(folder / "cg"))  # the worker: it ran the app; the master only forked it


def token_run(ops: int, root: Path) -> int:
    out = root / f"tokens-{ops}"
    subprocess.run(cachegrind([str(PYTHON), "-c", SEAL_AND_OPEN, str(ops)], out),  # noqa: S603 - fixed arguments
                   cwd=REPO / "backend",
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return max(counts(out))


def per_round_trip(run, n: int, root: Path) -> float:
    with ThreadPoolExecutor(2) as pool:  # the two runs side by side, one per core
        short, long = pool.map(lambda k: run(k, root), (WARM, WARM + n))
    return (long - short) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round-trips", type=int, default=400, help="N: round trips counted (after 10); at least 100")
    args = parser.parse_args(argv)
    if args.round_trips < 100:
        parser.error("--round-trips must be at least 100 (fewer do not spread the garbage collector's steps)")
    if shutil.which("valgrind") is None:
        print("bench: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    (REPO / "data").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="anon-hosting-instructions-", dir=REPO / "data"))
    root.chmod(0o700)
    try:
        figures = {name: per_round_trip(lambda k, r, app=app: worker_run(app, k, r), args.round_trips, root)
                   for name, app in APPS.items()}
        figures["tokens"] = per_round_trip(token_run, args.round_trips, root)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    mega = {k: v / 1e6 for k, v in figures.items()}
    print(f"instructions per small-file round trip (one gunicorn worker, user space, {args.round_trips} round trips)")
    print(f"  ours                    {mega['ours']:6.2f} M")
    print(f"  bare Flask              {mega['bare']:6.2f} M")
    print(f"  required-work floor     {mega['required']:6.2f} M")
    print(f"  ours / bare             {mega['ours'] / mega['bare']:6.2f}")
    print(f"  ours / required-work    {mega['ours'] / mega['required']:6.2f}")
    print(f"  tokens (2 issue + 1 verify, jwcrypto, in one process) {mega['tokens']:.2f} M"
          f" = {mega['tokens'] / mega['ours'] * 100:.0f} % of ours")
    return 0


def _connect(port: int, server: subprocess.Popen) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 300  # gunicorn under valgrind takes a while to import the app
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn under valgrind exited with {server.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            conn.request("GET", "/api/health")
            if conn.getresponse().read():
                return conn
        except OSError:
            conn.close()
            time.sleep(0.5)
    raise RuntimeError("gunicorn under valgrind did not answer within 300 s")


if __name__ == "__main__":
    sys.exit(main())
