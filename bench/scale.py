"""Costs that grow with the work done, not with the files stored: ``make bench BENCH_ARGS=--scale``.

    .venv/bin/python bench/perf.py --scale [--runs 2] [--local 0,10000,100000] [--s3 0,20000]
                                           [--rounds 150] [--batch 4] [--transfers 8] [--size-mib 256]
                                           [--only latency,load,s3path] [--workdir data/bench] [--json PATH]

Contract: ``main(argv) -> int`` measures on loopback, with the real stack (scripts/stack.py
``Stack``: nginx + gunicorn, 2 workers x 8 threads by default) on local storage and on a real
SeaweedFS (backend/tests/s3server.py), prints each run's figures and then a table of ratios
with their spread over the runs, and exits 0 once it has measured (1 if a stack fails or a
byte comes back wrong). It asserts no target: a benchmark, not a test.

- latency: one stack per store size (``--local``, ``--s3``), each store filled first through
  the storage layer (bench/scale_fill.py); then ``scale_latency.latency`` interleaves the
  stacks. Ratio: p99 at the largest store over p99 at the empty one (target at most 1.5).
  Then, in this process, the sweep's rows or S3 requests at the largest size, with nothing
  expired, with 1,000 expired, and (local only) a full sweep (``scale_latency.sweep_counts``).
- load: ``scale_load.concurrent`` on local storage. Ratios: app downloads (under the uploads
  too) over nginx static fetches, alone and beside the same uploads (target at least 0.5);
  nginx proxying its own sendfile beside the same uploads over static fetches alone (the most
  any app behind nginx could reach), and the app's downloads over that proxied sendfile;
  per worker, the highest RSS less 4 MiB per connection it held at that moment (target at
  most 64 MiB); short requests' p99 (target under 250 ms).
- s3path: ``scale_load.s3_path``. Ratios: the app over boto3, upload and download (target
  at least 0.7 each).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "backend"))

import scale_fill  # noqa: E402
import scale_latency  # noqa: E402
import scale_load  # noqa: E402
from perf import FLOOR_SERVER, STATIC_SERVER, make_file  # noqa: E402

from stack import Stack, free_port  # noqa: E402

MIB = 1 << 20
SECRET = secrets.token_urlsafe(48)
ENV = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": SECRET, "MAX_UPLOAD_BYTES": str(2048 * MIB),
       "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "SWEEP_INTERVAL": "0"}


class StaticStack(Stack):
    """The real stack plus a server block serving ``static_root`` with nginx's sendfile (bench/perf.py's),
    and one proxying that sendfile server through the API's proxy settings."""

    def __init__(self, static_root: Path, **kwargs):
        super().__init__(**kwargs)
        self.static_root, self.static_port, self.proxied_port = static_root, free_port(), free_port()

    def write_nginx_conf(self) -> Path:
        conf = super().write_nginx_conf()
        site = conf.parent / "default.conf"
        site.write_text(site.read_text() + STATIC_SERVER.format(port=self.static_port, root=self.static_root)
                        + FLOOR_SERVER.format(name="sendfile", port=self.proxied_port, backend=self.static_port,
                                              location="/"))
        return conf


def _s3server():
    """backend/tests/s3server.py, loaded by path: backend/tests on sys.path would hide the standard ``http``."""
    spec = importlib.util.spec_from_file_location("s3server", REPO / "backend" / "tests" / "s3server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _service(storage, root: Path):
    from anon_hosting.keys import KeyRing
    from anon_hosting.service import FileService, Limits
    return FileService(storage, KeyRing(root / "private", SECRET), Limits(2048 * MIB, 86400, 86400 * 30))


def _filled(storage, count: int, label: str) -> None:
    began = time.perf_counter()
    scale_fill.fill(storage, count)
    seconds = time.perf_counter() - began
    print(f"  filled {label} with {count} files in {seconds:.0f} s ({count / max(seconds, 1e-9):.0f}/s)", flush=True)


def _latency_runs(stacks: dict, args) -> list[dict]:
    runs = []
    for run in range(args.runs):
        runs.append(scale_latency.latency(stacks, args.rounds, args.batch))
        for name, ops in runs[-1].items():
            print(f"  run {run + 1} {name:>14}: " + "  ".join(
                f"{op} {v['p50'] * 1000:.1f}/{v['p99'] * 1000:.1f}" for op, v in ops.items())
                + " ms (p50/p99)", flush=True)
    return runs


def local_latency(root: Path, args) -> dict:
    from anon_hosting.storage.local import LocalStorage
    stores = {}
    for count in args.local:
        folder = root / f"local-{count}"
        _filled(LocalStorage(folder), count, f"local {count}")
        stores[f"local {count}"] = folder
    with ExitStack() as stacks:
        running = {name: stacks.enter_context(Stack(storage_dir=folder, private_dir=root / "private", env=ENV,
                                                    workdir=root / f"work-{name.replace(' ', '-')}"))
                   for name, folder in stores.items()}
        runs = _latency_runs(running, args)
    largest = LocalStorage(stores[f"local {max(args.local)}"])
    sweeps = scale_latency.sweep_counts(largest, _service(largest, root), full=True)
    print(scale_latency.format_sweeps(f"  sweep, local, {max(args.local)} stored", sweeps), flush=True)
    return {"runs": runs, "sweeps": sweeps}


def s3_phases(root: Path, args) -> dict:
    from anon_hosting.storage.s3 import S3Storage
    S3Server = _s3server().S3Server
    result = {}
    (root / "s3").mkdir()
    with S3Server(root / "s3") as server:
        buckets = {f"s3 {count}": (count, server.new_bucket()) for count in args.s3}
        os.environ.update({k: v for k, v in server.env("x").items() if k.startswith("AWS_")})
        stores = {name: S3Storage(bucket, "", server.endpoint) for name, (_, bucket) in buckets.items()}
        for name, (count, _) in buckets.items():
            _filled(stores[name], count, name)
        with ExitStack() as stacks:
            running = {name: stacks.enter_context(Stack(private_dir=root / "private", env={**ENV, **server.env(bucket)},
                                                        workdir=root / f"work-{name.replace(' ', '-')}"))
                       for name, (_, bucket) in buckets.items()}
            if "latency" in args.only:
                result["runs"] = _latency_runs(running, args)
            if "s3path" in args.only:
                empty, bucket = running[f"s3 {min(args.s3)}"], buckets[f"s3 {min(args.s3)}"][1]
                source = make_file(root / "s3-source.bin", args.size_mib * MIB)
                result["path"] = []
                for run in range(args.runs):
                    result["path"].append(scale_load.s3_path(empty, source, server.client(), bucket,
                                                                app_first=run % 2 == 1))
                    print(f"  run {run + 1} S3 data path: " + "  ".join(
                        f"{k} {v / MIB:.0f}" for k, v in result["path"][-1].items()) + " MiB/s", flush=True)
                source.unlink()
        if "latency" in args.only:
            largest = stores[f"s3 {max(args.s3)}"]
            result["sweeps"] = scale_latency.sweep_counts(largest, _service(largest, root), full=False)
            print(scale_latency.format_sweeps(f"  sweep, S3, {max(args.s3)} stored", result["sweeps"]), flush=True)
    return result


def load(root: Path, args) -> list[dict]:
    static = root / "static"
    static.mkdir()
    for folder in (root, static):
        folder.chmod(0o755)  # nginx workers (nobody) read the static file
    source = make_file(static / f"{args.size_mib}MiB.bin", args.size_mib * MIB)
    runs = []
    with StaticStack(static, storage_dir=root / "load", private_dir=root / "private", env=ENV,
                     workdir=root / "work-load") as stack:
        for run in range(args.runs):
            runs.append(scale_load.concurrent(stack, source, f"http://127.0.0.1:{stack.static_port}",
                                              f"http://127.0.0.1:{stack.proxied_port}", args.transfers))
            got = runs[-1]
            print(f"  run {run + 1} {args.transfers} x {args.size_mib} MiB: static {got['static'] / MIB:.0f}"
                  f" (beside uploads {got['static_beside'] / MIB:.0f}, proxied beside uploads"
                  f" {got['proxied_beside'] / MIB:.0f}),"
                  f" app download {got['download'] / MIB:.0f}, app upload {got['upload'] / MIB:.0f} MiB/s;"
                  f" workers (peak MiB, most connections, worst RSS - 4 MiB x connections): "
                  + ", ".join(f"{w['peak'] / MIB:.0f}/{w['conns']}/{w['over'] / MIB:.0f}" for w in got["workers"])
                  + f"; short requests p50 {got['short_p50'] * 1000:.0f} p99 {got['short_p99'] * 1000:.0f} ms"
                  f" (n={got['short_n']}, {len(got['short_errors'])} errors; p99 "
                  + ", ".join(f"{k} {v * 1000:.0f}" for k, v in got["short_p99_by_kind"].items()) + " ms)", flush=True)
    return runs


def _spread(values: list[float], fmt: str = "{:.2f}") -> str:
    text = fmt.format(statistics.median(values))
    return text if len(values) == 1 else f"{text} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def _verdict(values: list[float], ok) -> str:
    met = sum(1 for v in values if ok(v))
    return "met" if met == len(values) else f"MISSED in {len(values) - met} of {len(values)} runs"


def table(results: dict, args) -> str:
    rows = ["| point | ratio | median (spread over runs) | target | verdict |", "|---|---|---|---|---|"]
    for backend, sizes in (("local", args.local), ("s3", args.s3)):
        runs = results.get(backend, {}).get("runs")
        if not runs:
            continue
        small, large = f"{backend} {min(sizes)}", f"{backend} {max(sizes)}"
        for op in runs[0][small]:
            ratios = [r[large][op]["p99"] / r[small][op]["p99"] for r in runs]
            p50 = statistics.median(r[large][op]["p50"] / r[small][op]["p50"] for r in runs)
            rows.append(f"| 2 | {op} p99, {max(sizes):,} stored / empty ({backend}; p50 {p50:.2f}) |"
                        f" {_spread(ratios)} | ≤ 1.5 | {_verdict(ratios, lambda v: v <= 1.5)} |")
    for got in [results["load"]] if results.get("load") else []:
        down = [r["download"] / r["static"] for r in got]
        beside = [r["download"] / r["static_beside"] for r in got]
        ceiling = [r["proxied_beside"] / r["static"] for r in got]
        proxied = [r["download"] / r["proxied_beside"] for r in got]
        over = [max(w["over"] for w in r["workers"]) / MIB for r in got]
        short = [r["short_p99"] * 1000 for r in got]
        rows += [f"| 3 | app downloads / nginx static, {args.transfers} each (+{args.transfers} uploads) |"
                 f" {_spread(down)} | ≥ 0.5 | {_verdict(down, lambda v: v >= 0.5)} |",
                 f"| 3 | the same, static fetches beside the same {args.transfers} uploads |"
                 f" {_spread(beside)} | ≥ 0.5 | {_verdict(beside, lambda v: v >= 0.5)} |",
                 "| 3 | limit: nginx proxying its own sendfile (an upstream doing no work) beside the same uploads"
                 " / static alone |"
                 f" {_spread(ceiling)} | – | a ceiling for any app behind nginx |",
                 f"| 3 | app downloads / that proxied sendfile, both beside the same uploads |"
                 f" {_spread(proxied)} | – | – |",
                 f"| 3 | worst worker RSS − 4 MiB × its connections, MiB | {_spread(over, '{:.0f}')} | ≤ 64 |"
                 f" {_verdict(over, lambda v: v <= 64)} |",
                 f"| 3 | short requests' p99 under load, ms | {_spread(short, '{:.0f}')} | < 250 |"
                 f" {_verdict(short, lambda v: v < 250)} |"]
    for way in ("upload", "download") if results.get("s3", {}).get("path") else ():
        ratios = [r[f"app {way}"] / r[f"boto3 {way}"] for r in results["s3"]["path"]]
        rows.append(f"| 4 | S3 {way}: app / boto3, {args.size_mib} MiB | {_spread(ratios)} | ≥ 0.7 |"
                    f" {_verdict(ratios, lambda v: v >= 0.7)} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="perf.py --scale", description=__doc__.splitlines()[0])
    counts = lambda text: [int(x) for x in text.split(",") if x not in ("", "none")]  # noqa: E731
    parser.add_argument("--runs", type=int, default=2, help="runs of each measurement (the spread is reported)")
    parser.add_argument("--local", type=counts, default=[0, 10_000, 100_000], help="local store sizes (none: skip)")
    parser.add_argument("--s3", type=counts, default=[0, 20_000], help="S3 store sizes (none: skip)")
    parser.add_argument("--rounds", type=int, default=150, help="interleaved rounds per latency run")
    parser.add_argument("--batch", type=int, default=4, help="round trips per stack and round")
    parser.add_argument("--transfers", type=int, default=8, help="concurrent downloads, and uploads, of the load")
    parser.add_argument("--size-mib", type=int, default=256, help="size of a large transfer")
    parser.add_argument("--only", type=lambda t: set(t.split(",")), default={"latency", "load", "s3path"})
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench")
    args = parser.parse_args(argv)
    args.workdir = args.workdir.resolve()  # nginx is given absolute paths only
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="anon-hosting-scale-", dir=args.workdir))
    results: dict = {}
    try:
        if "latency" in args.only and args.local:
            print("latency against files stored, local", flush=True)
            results["local"] = local_latency(root, args)
        if args.only & {"latency", "s3path"} and args.s3:
            print("SeaweedFS: latency against files stored, and the S3 data path", flush=True)
            results["s3"] = s3_phases(root, args)
        if "load" in args.only:
            print(f"{args.transfers} downloads and {args.transfers} uploads at once, local", flush=True)
            results["load"] = load(root, args)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} after the run, {args.runs} runs\n")
    print(table(results, args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0
