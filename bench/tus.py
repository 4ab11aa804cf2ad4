"""Resumable (tus) uploads beside plain ones through the real stack: the ratio of their throughputs.

    .venv/bin/python bench/tus.py [--large] [--runs 5] [--chunk-mib 0] [--workdir data/bench]

Contract: ``main(argv) -> int`` starts the real stack (scripts/stack.py: nginx + gunicorn, local
storage in a temporary folder, loopback only) and uploads the same random file, alternately, as one
raw ``POST /api/files`` and as a tus upload as the page and the CLI send a file over 8 MiB: an empty
creation, then one PATCH with the whole file (``--chunk-mib N``: the creation carries the first N MiB
and PATCHes of N MiB follow, to measure smaller requests). Both stream
from the file through the same http.client code, 1 MiB per read, so the client is no part of the
difference. For each size (64 MiB, and 1 GiB with --large) it prints the median MiB/s of each and
the median, min and max of the per-run ratio tus / plain, and the gunicorn workers' median CPU per MiB
of each (it moves less with the machine's load than rates do); interleaving shares the machine's load of
the moment between the two. It is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import perf_clients as clients  # noqa: E402

from stack import NO_NGINX_LIMITS, Stack  # noqa: E402

MIB = 1 << 20
PIECE = MIB
TUS = {"Tus-Resumable": "1.0.0"}


def _send(port: int, method: str, path: str, headers: dict, source, length: int) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(length)}.items():
            connection.putheader(name, value)
        connection.endheaders()
        left = length
        while left:
            piece = source.read(min(PIECE, left))
            connection.send(piece)
            left -= len(piece)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def plain(port: int, path: Path) -> float:
    size = path.stat().st_size
    with open(path, "rb") as source:
        start = time.perf_counter()
        status, _, body = _send(port, "POST", "/api/files", {"Content-Type": "application/octet-stream",
                                                             "X-File-Name": "bench.bin"}, source, size)
        elapsed = time.perf_counter() - start
    if status != 201:
        raise RuntimeError(f"plain upload answered {status}: {body[:200]!r}")
    return elapsed


def tus(port: int, path: Path, chunk: int) -> float:
    size = path.stat().st_size
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    common = {**TUS, "Upload-Secret": secret, "Content-Type": "application/offset+octet-stream"}
    with open(path, "rb") as source:
        start = time.perf_counter()
        first = min(chunk, size)  # 0: an empty creation
        status, headers, body = _send(port, "POST", "/api/uploads", {**common, "Upload-Length": str(size)},
                                      source, first)
        location, offset = headers["Location"], int(headers["Upload-Offset"])
        while status not in (200,) and not (status == 201 and offset == size):
            if status not in (201, 204) or offset != source.tell():
                raise RuntimeError(f"tus answered {status} at {offset}: {body[:200]!r}")
            status, headers, body = _send(port, "PATCH", location, {**common, "Upload-Offset": str(offset)},
                                          source, min(chunk or size, size - offset))
            offset = int(headers.get("Upload-Offset", -1))
        elapsed = time.perf_counter() - start
    if "token" not in json.loads(body):
        raise RuntimeError("tus finished without the file's JSON")
    return elapsed


def measure(port: int, folder: Path, size: int, runs: int, chunk: int, cpu: Callable[[], float]) -> dict:
    path = folder / f"bench-{size}.bin"
    with open(path, "wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    plain_rates, tus_rates, ratios, cpu_ms = [], [], [], {plain: [], tus: []}
    for run in range(runs):
        order = (plain, tus) if run % 2 == 0 else (tus, plain)  # alternate who goes first
        times = {}
        for kind in order:
            before = cpu()
            times[kind] = kind(port, path) if kind is plain else kind(port, path, chunk)
            cpu_ms[kind].append((cpu() - before) * 1000 / (size / MIB))
        plain_rates.append(size / MIB / times[plain])
        tus_rates.append(size / MIB / times[tus])
        ratios.append(tus_rates[-1] / plain_rates[-1])
    path.unlink()
    return {"plain": statistics.median(plain_rates), "tus": statistics.median(tus_rates),
            "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "cpu_plain": statistics.median(cpu_ms[plain]), "cpu_tus": statistics.median(cpu_ms[tus])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help="add 1 GiB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--chunk-mib", type=int, default=0, help="0: one PATCH for the whole file")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    sizes = [64 * MIB] + ([1024 * MIB] if args.large else [])
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
               "MAX_UPLOAD_BYTES": str(2 * 1024 * MIB), "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0"}
        with Stack(storage_dir=root / "files", private_dir=root / "private", workdir=root / "work", env=env,
                   nginx_limits=NO_NGINX_LIMITS) as stack:
            shape = f"PATCHes of {args.chunk_mib} MiB" if args.chunk_mib else "one PATCH"
            print(f"tus ({shape}) vs plain POST /api/files, {args.runs} interleaved runs")
            print(f"{'size':>8} {'plain MiB/s':>12} {'tus MiB/s':>10} {'tus/plain':>10} {'spread':>14} "
                  f"{'worker CPU ms/MiB plain / tus':>30}")
            workers = lambda: clients.cpu_seconds({"gunicorn": [stack.gunicorn.pid]})["gunicorn"]  # noqa: E731
            for size in sizes:
                row = measure(stack.web_port, root, size, args.runs, args.chunk_mib * MIB, workers)
                print(f"{size // MIB:>5} MiB {row['plain']:>12.0f} {row['tus']:>10.0f} {row['ratio']:>10.2f} "
                      f"{row['min']:>6.2f}..{row['max']:<6.2f} {row['cpu_plain']:>19.2f} / {row['cpu_tus']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
