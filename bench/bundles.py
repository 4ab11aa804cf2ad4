"""Bundles on the real stack: a streamed zip against nginx's own static file, and many small files.

    .venv/bin/python bench/bundles.py [--runs 3] [--huge] [--workdir data/bench]

Contract: ``main(argv) -> int`` starts the real stack (bench/perf.py's ``BenchStack``: nginx + gunicorn,
local storage, temporary folders, loopback only), measures, prints each run and the median with the
spread (lowest and highest), and exits 0 once it has measured. It asserts nothing. Each run measures,
one right after the other so that both share the machine's load of the moment:

- zip: a bundle of 3 x 400 MiB retrieved as one zip through nginx with curl, against nginx serving a
  1200 MiB file with sendfile on the same nginx (ratio = zip MiB/s / static MiB/s); the highest RSS
  of any gunicorn worker during the zip download;
- small: a 300 x 4 KiB bundle uploaded as multipart with curl (``-F file=@...`` per file), against one
  1.2 MiB file uploaded the same way (ratio = bundle seconds / file seconds).

``--huge`` adds one bundle whose zip is over 4 GiB (a 4.1 GiB file, so an entry and the offsets
after it need ZIP64, and a 300 MiB one), downloaded to disk and checked by ``unzip -t``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "scripts"))

import perf_clients as clients  # noqa: E402
from perf import BenchStack, make_file  # noqa: E402

MIB = 1 << 20
ZIP_FILES, ZIP_FILE_SIZE = 3, 400 * MIB
SMALL_FILES, SMALL_SIZE, SINGLE_SIZE = 300, 4096, 1200 * 1024
HUGE = (4100 * MIB, 300 * MIB)


def curl(args: list[str]) -> tuple[str, int, float]:
    cmd = ["curl", "-sS", "--noproxy", "*", "-w", "\n%{http_code} %{time_total}", *args]
    done = subprocess.run(cmd, capture_output=True, check=False)  # noqa: S603 - our own arguments
    if done.returncode != 0:
        raise RuntimeError(f"curl failed: {done.stderr.decode(errors='replace').strip()}")
    body, _, tail = done.stdout.decode().rpartition("\n")
    status, seconds = tail.split()
    return body, int(status), float(seconds)


def upload(base: str, paths: list[Path]) -> tuple[float, dict]:
    """POST the files as one multipart form (one part: a plain file), streamed from disk by curl."""
    body, status, seconds = curl([*(a for p in paths for a in ("-F", f"file=@{p}")), "-H", "Expect:",
                                  f"{base}/api/files"])
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {body[:200]}")
    return seconds, json.loads(body)


def retrieve(base: str, token: str, out: Path) -> tuple[float, int]:
    _, status, seconds = curl(["-o", str(out), "-H", "Content-Type: application/json",
                               "--data-binary", json.dumps({"token": token}), f"{base}/api/files/retrieve"])
    if status != 200:
        raise RuntimeError(f"retrieve answered {status}")
    return seconds, out.stat().st_size


def zip_run(stack: BenchStack, token: str, static: Path, out: Path, sampler, run: int) -> dict:
    with sampler.phase(run):
        zipped, size = retrieve(stack.url, token, out)
    out.unlink()
    served = clients.fetch(f"{stack.static_url}/{static.name}", out, static.stat().st_size)
    return {"zip": size / zipped / MIB, "static": static.stat().st_size / served / MIB,
            "ratio": (size / zipped) / (static.stat().st_size / served), "rss": sampler.peaks.get(run, 0) / MIB}


def small_run(stack: BenchStack, small: list[Path], single: Path) -> dict:
    bundle_seconds, answer = upload(stack.url, small)
    file_seconds, plain = upload(stack.url, [single])
    assert answer["kind"] == "bundle" and plain["kind"] == "file"  # noqa: S101 - a wrong form would measure nothing
    for owner in (answer["owner_token"], plain["owner_token"]):
        clients.delete(stack.url, owner)
    return {"bundle_s": bundle_seconds, "file_s": file_seconds, "ratio": bundle_seconds / file_seconds}


def huge(stack: BenchStack, root: Path) -> None:
    paths = [make_file(root / f"huge-{i}.bin", size) for i, size in enumerate(HUGE)]
    _, answer = upload(stack.url, paths)
    for path in paths:
        path.unlink()
    out = root / "huge.zip"
    seconds, size = retrieve(stack.url, answer["token"], out)
    tested = subprocess.run(["unzip", "-t", str(out)], capture_output=True, text=True, check=False)  # noqa: S603,S607
    with open(out, "rb") as f:
        f.seek(-200, os.SEEK_END)
        tail = f.read()
    zip64 = b"PK\x06\x06" in tail and b"PK\x06\x07" in tail  # the ZIP64 end record and its locator
    print(f"huge: {size / MIB:.0f} MiB zip in {seconds:.1f} s ({size / seconds / MIB:.0f} MiB/s);"
          f" unzip -t exit {tested.returncode}: {tested.stdout.strip().splitlines()[-1]}; ZIP64 records: {zip64}",
          flush=True)
    out.unlink()
    clients.delete(stack.url, answer["owner_token"])


def spread(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows]
    return f"{statistics.median(values):.2f} (runs {min(values):.2f} to {max(values):.2f})"


def measure(args: argparse.Namespace, root: Path) -> None:
    static_root = root / "static"
    static_root.mkdir()
    for folder in (root, static_root):
        folder.chmod(0o755)  # nginx workers (nobody) read the static file
    parts = [make_file(root / f"part-{i}.bin", ZIP_FILE_SIZE) for i in range(ZIP_FILES)]
    static = make_file(static_root / "same-size.bin", ZIP_FILES * ZIP_FILE_SIZE)
    (root / "small").mkdir()
    small = [make_file(root / "small" / f"{i:03}.bin", SMALL_SIZE) for i in range(SMALL_FILES)]
    single = make_file(root / "single.bin", SINGLE_SIZE)
    env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": secrets.token_urlsafe(48),
           "MAX_UPLOAD_BYTES": str(sum(HUGE) + MIB), "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0",
           "SWEEP_INTERVAL": "0"}
    stack = BenchStack(static_root, storage_dir=root / "files", private_dir=root / "private", env=env,
                       workdir=root / "work")
    stack.start(timeout=60)
    try:
        if not stack.use_nginx:
            raise RuntimeError("nginx is not installed: the benchmark measures through nginx")
        _, answer = upload(stack.url, parts)
        sampler = clients.RssSampler(stack.gunicorn.pid)
        sampler.start()
        zips, smalls = [], []
        try:
            for run in range(args.runs):
                zips.append(zip_run(stack, answer["token"], static, root / "out.bin", sampler, run))
                smalls.append(small_run(stack, small, single))
                z, s = zips[-1], smalls[-1]
                print(f"run {run + 1}/{args.runs} (load {os.getloadavg()[0]:.1f}): zip {z['zip']:.0f} MiB/s,"
                      f" static {z['static']:.0f} MiB/s, ratio {z['ratio']:.2f}, worker RSS {z['rss']:.1f} MiB;"
                      f" 300 x 4 KiB {s['bundle_s'] * 1000:.0f} ms vs 1.2 MiB {s['file_s'] * 1000:.0f} ms,"
                      f" ratio {s['ratio']:.2f}", flush=True)
        finally:
            sampler.stop()
        print(f"zip of {ZIP_FILES} x {ZIP_FILE_SIZE // MIB} MiB / nginx static: {spread(zips, 'ratio')}"
              f" (target >= 0.6); peak worker RSS {max(z['rss'] for z in zips):.1f} MiB (target <= 64)")
        print(f"{SMALL_FILES} x 4 KiB bundle / one 1.2 MiB file, upload time: {spread(smalls, 'ratio')}"
              " (target < 3)", flush=True)
        if args.huge:
            huge(stack, root)
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each side-by-side pair")
    parser.add_argument("--huge", action="store_true", help="add a zip over 4 GiB, checked by unzip -t")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary folders go")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bundles-", dir=args.workdir))
    try:
        measure(args, root)
    except RuntimeError as exc:
        print(f"bench/bundles.py: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
