"""Many large transfers at once, and the S3 data path: points 3 and 4 of bench/scale.py.

Contract. Every transfer runs in its own process (``transfer``, over http.client in
1 MiB blocks), so that the clients' own interpreter locks do not pace each other; all
of a phase start at one instant, and a phase's aggregate throughput is its bytes over
the time from its first start to its last end. Every byte is checked: a download's
SHA-256 against the source file's, and each upload by downloading it back afterwards
(untimed). An S3 path download (``drain``) only counts its bytes, as boto3's into /dev/null
does, and is then checked by a second, untimed download.

- ``concurrent(stack, source, static_url, proxied_url, transfers)``: ``transfers`` nginx
  static fetches of ``source``, alone and then beside ``transfers`` app uploads of it, and
  as many fetches of it through ``proxied_url`` (nginx proxying that sendfile) beside them; then
  ``transfers`` app downloads of it plus ``transfers`` uploads of it, all through
  nginx, while a prober process times short requests
  (an info and a 4 KiB upload, each about every 50 ms) and ``WorkerSampler`` reads every
  gunicorn worker's RSS and its established connections from nginx every 20 ms.
- ``s3_path(stack, source, client, bucket, app_first)``: one ``source`` upload and
  download through the app (on S3), and boto3's own ``upload_fileobj``/``download_fileobj``
  of the same file to the same server, in turn, each after a sync.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import multiprocessing
import os
import queue
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import perf_clients as clients
import psutil

MIB = 1 << 20
PROBE_EVERY = 0.05  # seconds between two short requests of one prober thread


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def transfer(kind: str, url: str, what: str, start_at: float, results) -> None:
    """One transfer, reported to ``results``.

    ``what`` is a token (download, drain), a path (static) or a file (upload)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600, blocksize=MIB)
    time.sleep(max(0.0, start_at - time.monotonic()))
    began, digest, size, answer = time.monotonic(), hashlib.sha256(), 0, None
    try:
        if kind == "upload":
            with open(what, "rb") as body:
                conn.request("POST", "/api/files", body=body, headers={
                    "Content-Type": "application/octet-stream", "X-File-Name": "scale.bin",
                    "Content-Length": str(Path(what).stat().st_size)})
        elif kind in ("download", "drain"):
            conn.request("POST", "/api/files/retrieve", body=json.dumps({"token": what}),
                         headers={"Content-Type": "application/json"})
        else:
            conn.request("GET", what)
        response = conn.getresponse()
        if kind == "upload":
            answer = json.loads(response.read())
        else:
            buffer = bytearray(MIB)
            with memoryview(buffer) as view:
                while n := response.readinto(buffer):
                    if kind != "drain":
                        digest.update(view[:n])
                    size += n
        results.put({"kind": kind, "status": response.status, "began": began, "ended": time.monotonic(),
                     "bytes": size, "sha256": digest.hexdigest(), "answer": answer})
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the phase
        results.put({"kind": kind, "error": repr(exc)})
    finally:
        conn.close()


def probe(url: str, token: str, stop, results) -> None:
    """Short requests until ``stop`` is set: one thread times infos, another 4 KiB uploads."""
    latencies: dict[str, list[float]] = {"info": [], "upload 4 KiB": []}
    errors: list[str] = []

    def loop(kind: str) -> None:
        conn, payload = clients._Connection(url), bytes(4096)
        while not stop.is_set():
            began = time.perf_counter()
            if kind == "info":
                status, body = conn.post("/api/files/info", "application/json", json.dumps({"token": token}).encode())
            else:
                status, body = conn.post("/api/files", "application/octet-stream", payload, "X-File-Name: s.bin\r\n")
            latencies[kind].append(time.perf_counter() - began)
            if status not in (200, 201):
                errors.append(f"{kind} answered {status}")
            time.sleep(PROBE_EVERY)
        conn.close()

    threads = [threading.Thread(target=loop, args=(kind,)) for kind in latencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put({"kind": "probe", "latencies": latencies, "errors": errors})


class WorkerSampler:
    """Each worker's peak RSS, its most connections from nginx, and its worst RSS less 4 MiB per connection."""

    def __init__(self, master_pid: int, api_port: int, interval: float = 0.02):
        self.master, self.port, self.interval = psutil.Process(master_pid), api_port, interval
        self.workers: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> WorkerSampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for worker in self.master.children():
                try:
                    rss = worker.memory_info().rss
                    conns = sum(1 for c in worker.net_connections("tcp")
                                if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port)
                except psutil.NoSuchProcess:
                    continue
                seen = self.workers.setdefault(worker.pid, {"peak": 0, "conns": 0, "over": -1 << 40})
                seen["peak"], seen["conns"] = max(seen["peak"], rss), max(seen["conns"], conns)
                seen["over"] = max(seen["over"], rss - 4 * MIB * conns)  # must stay at or under 64 MiB
            time.sleep(self.interval)


def _run(jobs: list[tuple], start_in: float = 1.0) -> list[dict]:
    """Run ``transfer`` jobs in their own processes, all starting at one instant; their results, checked."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.monotonic() + start_in + 0.1 * len(jobs)  # after every process has started
    procs = [context.Process(target=transfer, args=(*job, start_at, results)) for job in jobs]
    for proc in procs:
        proc.start()
    got: list[dict] = []
    while len(got) < len(procs):
        try:
            got.append(results.get(timeout=1))
        except queue.Empty:
            if any(proc.exitcode not in (None, 0) for proc in procs):
                raise RuntimeError("a transfer process died (its error is above)") from None
    for proc in procs:
        proc.join()
    failed = [r for r in got if "error" in r or r["status"] not in (200, 201)]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(got)} transfers failed, e.g. {failed[0]}")
    return got


def _aggregate(results: list[dict], kind: str, size: int) -> float:
    mine = [r for r in results if r["kind"] == kind]
    return size * len(mine) / (max(r["ended"] for r in mine) - min(r["began"] for r in mine))


def _check(results: list[dict], kinds: tuple[str, ...], digest: str) -> None:
    wrong = [r for r in results if r["kind"] in kinds and r["sha256"] != digest]
    if wrong:
        raise RuntimeError(f"{len(wrong)} transfers brought back other bytes than the source's")


def concurrent(stack, source: Path, static_url: str, proxied_url: str, transfers: int) -> dict:
    size, digest = source.stat().st_size, sha256_file(source)
    _, tokens = clients.upload(stack.url, source)
    static = _run([("static", static_url, f"/{source.name}")] * transfers)
    _check(static, ("static",), digest)
    # The same static fetches beside the same uploads: the baseline that shares the CPU as the app's downloads do.
    uploads = [("upload", stack.url, str(source))] * transfers
    beside = _run([("static", static_url, f"/{source.name}")] * transfers + uploads)
    _check(beside, ("static",), digest)
    # nginx proxying its own sendfile beside the same uploads: the most that any app behind nginx could send.
    proxied = _run([("static", proxied_url, f"/{source.name}")] * transfers + uploads)
    _check(proxied, ("static",), digest)
    for answer in (r["answer"] for r in beside + proxied if r["kind"] == "upload"):
        clients.delete(stack.url, answer["owner_token"])
    context = multiprocessing.get_context("spawn")
    stop, probes = context.Event(), context.Queue()
    prober = context.Process(target=probe, args=(stack.url, tokens["token"], stop, probes))
    prober.start()
    try:
        with WorkerSampler(stack.gunicorn.pid, stack.api_port) as sampler:
            mixed = _run([("download", stack.url, tokens["token"])] * transfers + uploads)
    finally:
        stop.set()
        short = probes.get(timeout=60)
        prober.join()
    _check(mixed, ("download",), digest)
    uploaded = [r["answer"] for r in mixed if r["kind"] == "upload"]
    _check(_run([("download", stack.url, answer["token"]) for answer in uploaded], start_in=0.2), ("download",), digest)
    for answer in [*uploaded, tokens]:
        clients.delete(stack.url, answer["owner_token"])
    latencies = sorted(x for values in short["latencies"].values() for x in values)
    by_kind = {kind: sorted(values)[int(len(values) * 0.99)] for kind, values in short["latencies"].items()}
    return {"short_p99_by_kind": by_kind,
            "static": _aggregate(static, "static", size), "static_beside": _aggregate(beside, "static", size),
            "proxied_beside": _aggregate(proxied, "static", size),
            "download": _aggregate(mixed, "download", size),
            "upload": _aggregate(mixed, "upload", size), "workers": list(sampler.workers.values()),
            "short_p50": latencies[len(latencies) // 2], "short_p99": latencies[int(len(latencies) * 0.99)],
            "short_n": len(latencies), "short_errors": short["errors"]}


def s3_path(stack, source: Path, client, bucket: str, app_first: bool = False) -> dict:
    """Bytes per second of each: boto3 upload, app upload, boto3 download, app download (same file, same server).

    Each pair runs in turn, the app first when ``app_first``, and every transfer starts after a sync, so
    that neither side pays for the writeback the other left behind.
    """
    size, digest, key = source.stat().st_size, sha256_file(source), "scale-boto3.bin"
    seconds = dict.fromkeys(("boto3 upload", "app upload", "boto3 download", "app download"), 0.0)
    answer: dict = {}

    def boto3_upload() -> None:
        began = time.monotonic()
        with open(source, "rb") as f:
            client.upload_fileobj(f, bucket, key)
        seconds["boto3 upload"] = time.monotonic() - began

    def app_upload() -> None:
        up = _run([("upload", stack.url, str(source))], start_in=0.2)[0]
        seconds["app upload"] = up["ended"] - up["began"]
        answer.update(up["answer"])

    def boto3_download() -> None:
        began = time.monotonic()
        with open("/dev/null", "wb") as sink:
            client.download_fileobj(bucket, key, sink)
        seconds["boto3 download"] = time.monotonic() - began

    def app_download() -> None:
        down = _run([("drain", stack.url, answer["token"])], start_in=0.2)[0]
        seconds["app download"] = down["ended"] - down["began"]
        if down["bytes"] != size:
            raise RuntimeError(f"the app's download brought {down['bytes']} of {size} bytes")

    for pair in ((boto3_upload, app_upload), (boto3_download, app_download)):
        for step in reversed(pair) if app_first else pair:
            os.sync()
            step()
    _check(_run([("download", stack.url, answer["token"])], start_in=0.2), ("download",), digest)
    client.delete_object(Bucket=bucket, Key=key)
    clients.delete(stack.url, answer["owner_token"])
    return {k: size / v for k, v in seconds.items()}
