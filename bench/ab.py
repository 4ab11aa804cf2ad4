"""Interleaved A/B of the small-file figures: two checkouts' stacks side by side, alternating short runs.

    .venv/bin/python bench/ab.py TREE_A TREE_B [--rounds 6] [--seconds 8] [--clients 8 32]

Contract: ``main(argv) -> int`` starts each tree's own stack (its scripts/stack.py ``Stack``:
nginx + gunicorn, rate limits off, temporary folders under the tree's data/) on loopback, then,
for each round and each client count, runs bench/perf_clients.py's ``small_files`` against A and
B, swapping which goes first every round, and prints each run and, per side, the median and the
sorted values of round trips/s, p99 and gunicorn CPU ms per round trip. It asserts nothing.

Why: a shared machine's throughput moves by a factor of two from one minute to the next, more
than most single changes are worth; alternating short runs puts both sides under the same drift
(docs/performance.md, "How it is measured"). A tree is any checkout or copy of this repository
that has the change to measure; both run with this script's interpreter and venv.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import perf_clients as clients  # noqa: E402

SERVE = """
import json, secrets, shutil, sys, tempfile
from pathlib import Path
tree = Path(sys.argv[1])
sys.path.insert(0, str(tree / "scripts"))
from stack import Stack
(tree / "data").mkdir(exist_ok=True)
root = Path(tempfile.mkdtemp(prefix="ab-", dir=tree / "data"))
env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
       "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "SWEEP_INTERVAL": "0"}
try:
    with Stack(storage_dir=root / "files", private_dir=root / "private", env=env, workdir=root / "work") as stack:
        print(json.dumps({"url": stack.url, "pid": stack.gunicorn.pid}), flush=True)
        sys.stdin.read()
finally:
    shutil.rmtree(root, ignore_errors=True)
"""


def serve(tree: Path) -> tuple[subprocess.Popen, str, int]:
    """The tree's stack in a child process (each tree imports its own scripts/), until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", SERVE, str(tree)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"{tree}: the stack did not start")
    started = json.loads(line)
    return process, started["url"], started["pid"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, type=Path, help="the two checkouts, A then B")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--clients", type=int, nargs="+", default=[8])
    args = parser.parse_args(argv)
    names = [f"{label} ({tree})" for label, tree in zip("AB", args.trees, strict=True)]
    servers = {}
    try:
        for name, tree in zip(names, args.trees, strict=True):
            servers[name] = serve(tree.resolve())
        results: dict[tuple[str, int], list[dict]] = {(n, c): [] for n in names for c in args.clients}
        for number in range(args.rounds):
            for count in args.clients:
                for name in names if number % 2 == 0 else names[::-1]:
                    _process, url, pid = servers[name]
                    workers = [pid] + [child.pid for child in psutil.Process(pid).children()]
                    run = clients.small_files(url, count, args.seconds, {"gunicorn": workers})
                    results[(name, count)].append(run)
                    print(f"round {number + 1} x{count} {name}: {run['rate']:.0f} rt/s, p99 {run['p99'] * 1000:.1f} ms,"
                          f" CPU {run['cpu_ms_gunicorn']:.2f} ms", flush=True)
    finally:
        for process, _url, _pid in servers.values():
            process.stdin.close()
            process.wait(60)
    for (name, count), runs in results.items():
        for key, scale, unit in (("rate", 1, "rt/s"), ("p99", 1000, "ms p99"), ("cpu_ms_gunicorn", 1, "CPU ms")):
            values = sorted(round(run[key] * scale, 2) for run in runs)
            print(f"x{count} {name}: median {round(statistics.median(values), 2)} {unit}, runs {values}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
