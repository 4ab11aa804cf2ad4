"""Throughput, memory and small-file rate of the real stack, against the machine's own limits.

    .venv/bin/python bench/perf.py [--large] [--runs 3] [--small-seconds 5] [--only transfers|small]
                                   [--json PATH] [--no-docs] [--workdir data/bench]
    .venv/bin/python bench/perf.py --scale [...]   (bench/scale.py: its own options and figures)

Contract: ``main(argv) -> int`` starts the real stack (scripts/stack.py ``Stack``:
nginx + gunicorn, local storage, temporary folders under --workdir, loopback ports only), measures,
prints a table, and (unless --no-docs) rewrites the generated block of
docs/performance.md and the chart docs/performance.png. It is a benchmark, not a
test: it asserts nothing and exits 0 once it has measured (1 if the stack fails).

For each size (1 MiB, 64 MiB, and 1 GiB with --large), every run measures, one
after the other so that all share the machine's load of the moment:

- upload: ``curl -T file -X POST`` (streams from the file) through nginx, raw body;
- dd: ``dd bs=1M conv=fsync`` of the same file into the storage folder (durable-write limit);
- download: a retrieve through nginx into a file, with curl;
- static: nginx serving the same file from a bench folder with sendfile (read/serve limit),
  fetched by the same curl into a file (a second server block on the same nginx);
- crypto: AES-256-GCM (cryptography) sealing the same bytes in 1 MiB chunks in this
  process (at least 16 and at most 256 MiB of them, so one chunk's timer noise does not
  decide the 1 MiB figure), and opening them (the crypto limit).

Every figure is the median over the runs. A sampler reads the RSS of every gunicorn
worker every 5 ms; a size's peak in a run is the highest seen during its upload and
download. Flatness compares, within each run, the peak of the largest size with the peak
of 1 MiB just before it on the same workers (sizes run in ascending order); the worst run
counts. The peak is the highest over all runs.

Small files: N client threads (1, 8, 32) each loop upload 4 KiB + retrieve it over a
keep-alive connection through nginx for --small-seconds; round trips per second and
the p50/p99 latency of one round trip, median over the runs. Right after each, the same
clients run against the two floors of bench/bare_app.py, each under the same gunicorn
settings behind the same nginx: the framework floor (the same two requests with no
crypto, token or fsync: what any app on this stack could reach at best on this machine
at that moment) and the required-work floor (the same Flask with only the operations a
round trip of the product cannot skip, done by the product's own modules: durable
encrypted put, two jwcrypto tokens, verify, state check, decrypt).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(BENCH))

import perf_clients as clients  # noqa: E402
import perf_report as report  # noqa: E402

from stack import Stack, free_port  # noqa: E402
from stacklib import memory, processes  # noqa: E402

MIB = 1 << 20
SIZES = (1 * MIB, 64 * MIB)
LARGE = 1024 * MIB
CONCURRENCY = (1, 8, 32)
STATIC_SERVER = """
# bench/perf.py: the read/serve limit, nginx's own sendfile path on the same nginx.
server {{
    listen 127.0.0.1:{port};
    root {root};
    access_log off;
    sendfile on;
    location / {{ }}
}}
"""
FLOOR_SERVER = """
# bench/: a floor, an upstream on {backend} proxied under {location} exactly as the real API is.
upstream floor_{name} {{
    server 127.0.0.1:{backend};
    keepalive 32;
}}
server {{
    listen 127.0.0.1:{port};
    location {location} {{
        include anon-hosting/proxy-api.conf;
        proxy_pass http://floor_{name};
    }}
}}
"""
# name -> gunicorn app spec in bench/bare_app.py (see its docstring)
FLOORS = {"bare": "bare_app:create_app()", "required": "bare_app:create_app(required_work=True)"}
SMALL_FIGURES = ("rate", "p50", "p99", "cpu_ms_gunicorn")


class BenchStack(Stack):
    """The real stack, plus a server block that serves ``static_root`` as nginx does best, plus the two floors of
    bench/bare_app.py under the same gunicorn settings behind the same nginx (see FLOORS)."""

    def __init__(self, static_root: Path, **kwargs):
        super().__init__(**kwargs)
        self.static_root, self.static_port = static_root, free_port()
        self.floor_ports = {name: (free_port(), free_port()) for name in FLOORS}  # (nginx, gunicorn)
        self.floors: dict[str, subprocess.Popen] = {}

    def floor_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.floor_ports[name][0]}"

    def _start_gunicorn(self) -> None:
        super()._start_gunicorn()
        for name, app in FLOORS.items():
            folder = self.workdir / f"floor-{name}"
            folder.mkdir(parents=True, exist_ok=True)
            env = {**self.backend_env(), "BARE_APP_DIR": str(folder), "PYTHONPATH": str(BENCH)}
            self.floors[name] = processes.launch(self.gunicorn_command(f"127.0.0.1:{self.floor_ports[name][1]}", app),
                                                 folder / "gunicorn.log", env=env, cwd=BENCH)

    def stop(self) -> None:
        for process in self.floors.values():
            processes.stop(process, signal.SIGTERM, timeout=30)
        super().stop()

    @property
    def static_url(self) -> str:
        return f"http://127.0.0.1:{self.static_port}"

    def write_nginx_conf(self) -> Path:
        conf = super().write_nginx_conf()
        site = conf.parent / "default.conf"
        site.write_text(site.read_text() + STATIC_SERVER.format(port=self.static_port, root=self.static_root)
                        + "".join(FLOOR_SERVER.format(name=name, port=port, backend=backend, location="/api/")
                                  for name, (port, backend) in self.floor_ports.items()))
        return conf


def make_file(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        for offset in range(0, size, MIB):
            f.write(os.urandom(min(MIB, size - offset)))
    path.chmod(0o644)
    return path


def dd_fsync(source: Path, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M", "conv=fsync", "status=none"],  # noqa: S603,S607
                   check=True)
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def one_run(stack: BenchStack, files: dict[int, Path], out: Path, sampler: memory.RssSampler, run: int) -> dict:
    figures = {}
    def worker_cpu() -> float:
        return clients.cpu_seconds({"w": [stack.gunicorn.pid]})["w"]

    for size, path in files.items():
        cpu = worker_cpu()
        with sampler.phase((run, size)):
            up, tokens = clients.upload(stack.url, path)
        cpu_up = worker_cpu() - cpu
        dd = dd_fsync(path, stack.storage_dir / ".bench-dd")
        cpu = worker_cpu()
        with sampler.phase((run, size)):
            down = clients.download(stack.url, tokens["token"], out, size)
        cpu_down = worker_cpu() - cpu
        static = clients.fetch(f"{stack.static_url}/{path.name}", out, size)
        clients.delete(stack.url, tokens["owner_token"])
        seal, unseal = clients.aes_gcm(min(max(size, 16 * MIB), 256 * MIB))
        figures[size] = {"upload": size / up, "download": size / down, "static": size / static,
                         "dd": size / dd, "aes_seal": seal, "aes_open": unseal,
                         "cpu_ms_per_mib_up": cpu_up * 1000 / (size / MIB),
                         "cpu_ms_per_mib_down": cpu_down * 1000 / (size / MIB)}
        print(f"  {report.size_label(size):>7}: " + "  ".join(
            f"{k} {v / MIB:5.0f}" for k, v in figures[size].items() if not k.startswith("cpu")) + "  MiB/s;"
            f" worker CPU ms/MiB up {figures[size]['cpu_ms_per_mib_up']:.2f}"
            f" down {figures[size]['cpu_ms_per_mib_down']:.2f}", flush=True)
    return figures


def measure(args: argparse.Namespace, root: Path) -> dict:
    static_root, storage, out = root / "static", root / "files", root / "out.bin"
    static_root.mkdir()
    for folder in (root, static_root):
        folder.chmod(0o755)  # nginx workers (nobody) read the static files
    sizes = () if args.only == "small" else SIZES + ((LARGE,) if args.large else ())
    files = {size: make_file(static_root / f"{report.size_label(size).replace(' ', '')}.bin", size)
             for size in sizes}
    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
           "MAX_UPLOAD_BYTES": str(2 * 1024 * MIB), "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0",
           "SWEEP_INTERVAL": "0"}
    stack = BenchStack(static_root, storage_dir=storage, private_dir=root / "private", env=env,
                       workdir=root / "work")
    stack.start(timeout=60)
    try:
        if not stack.use_nginx:
            raise RuntimeError("nginx is not installed: the benchmark measures through nginx")
        for name in FLOORS:
            clients.wait_ready(f"{stack.floor_url(name)}/api/health", timeout=60)
        sampler = memory.RssSampler(memory.workers_of(stack.gunicorn.pid), 0.005, phases_only=True).start()
        idle = sampler.current()
        cpu_groups = {"gunicorn": [stack.gunicorn.pid], "nginx": [stack.nginx.pid], "client": [os.getpid()]}
        runs, small = [], []
        try:
            for run in range(args.runs):
                print(f"run {run + 1}/{args.runs} (load {os.getloadavg()[0]:.1f})", flush=True)
                runs.append(one_run(stack, files, out, sampler, run))
                if args.only == "transfers":
                    continue
                small.append({})
                for c in CONCURRENCY:
                    creation = clients.file_creation_us(stack.storage_dir)
                    small[-1][c] = clients.small_files(stack.url, c, args.small_seconds, cpu_groups)
                    small[-1][c]["file_creation_us"] = creation
                    for name, process in stack.floors.items():
                        floor = clients.small_files(stack.floor_url(name), c, args.small_seconds,
                                                    {"gunicorn": [process.pid]})
                        small[-1][c].update({f"{name}_{k}": floor[k] for k in SMALL_FIGURES})
                for c, result in small[-1].items():
                    print(f"  small x{c:<2}: {result['rate']:6.0f} round trips/s  p50 {result['p50'] * 1000:5.1f} ms"
                          f"  p99 {result['p99'] * 1000:5.1f} ms  (bare Flask {result['bare_rate']:4.0f}/s,"
                          f" p99 {result['bare_p99'] * 1000:.1f} ms, gunicorn {result['bare_cpu_ms_gunicorn']:.2f} ms;"
                          f" required work {result['required_rate']:4.0f}/s,"
                          f" p99 {result['required_p99'] * 1000:.1f} ms, {result['required_cpu_ms_gunicorn']:.2f} ms)"
                          "  CPU ms per round trip: "
                          + " ".join(f"{k[7:]} {v:.2f}" for k, v in result.items() if k.startswith("cpu_ms_"))
                          + f"; a file creation {result['file_creation_us']:.0f} us",
                          flush=True)
        finally:
            sampler.stop()
        return {
            "sizes": list(sizes),
            "throughput": {size: {k: statistics.median(r[size][k] for r in runs) for k in runs[0][size]}
                           for size in sizes},
            "runs": runs,
            "rss": {"idle": idle, "runs": [{size: sampler.peaks.get((run, size), 0) for size in sizes}
                                            for run in range(args.runs)]},
            "small": {c: {k: statistics.median(s[c][k] for s in small) for k in small[0][c]}
                      for c in CONCURRENCY} if small else {},
            "workers": clients.worker_settings(REPO / "backend" / "gunicorn.conf.py"),
            "machine": {"cores": os.cpu_count(), "load_after": os.getloadavg()[0], "runs": args.runs,
                        "date": time.strftime("%Y-%m-%d %H:%M")},
        }
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--scale" in argv:  # costs against the files stored and the transfers at once: bench/scale.py
        import scale
        return scale.main([arg for arg in argv if arg != "--scale"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add the 1 GiB size")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--small-seconds", type=float, default=5.0, help="seconds per small-file measurement")
    parser.add_argument("--only", choices=("transfers", "small"), help="measure one part (implies --no-docs)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md and .png")
    parser.add_argument("--workdir", type=Path, default=REPO / "data" / "bench",
                        help="parent of the temporary folder (default: data/bench; see docs/performance.md on /tmp)")
    args = parser.parse_args(argv)
    args.no_docs = args.no_docs or args.only is not None
    args.workdir = args.workdir.resolve()  # nginx is given absolute paths only
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="anon-hosting-bench-", dir=args.workdir))
    try:
        results = measure(args, root)
    except RuntimeError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(report.table(results) if args.only is None else json.dumps(
        {k: results[k] for k in ("throughput", "rss", "small")}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if not args.no_docs:
        report.write_docs(results, REPO / "docs" / "performance.md", REPO / "docs" / "performance.png")
        print("\nwrote docs/performance.md (generated block) and docs/performance.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
