"""The soak's bookkeeping and verdict (bench/soak.py): results, worker memory, the report and its table.

Contract: ``Results`` collects every answer (thread-safe); ``WorkerMonitor`` samples each gunicorn
worker's RSS, threads and open fds once a second (stacklib.memory) and ``report()`` says whether a
worker's RSS grew: its idle RSS at the end more than ``slack`` above its idle RSS at the start or
its high in the first half (the warm-up). ``summarize`` turns both into the JSON report and its
goals; ``print_table`` prints it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import psutil
import requests

from stacklib.answers import error_code
from stacklib.memory import RssSampler, workers_of

MIB = 1 << 20
ENDPOINTS = ("upload", "info", "retrieve", "delete", "hostile", "verify")
ABUSE_RENEW = 30.0  # seconds between two rounds of the abusers (bench/soak.py Abusers)


@dataclass
class Stored:
    token: str
    owner: str
    seed: int
    size: int
    sha256: str
    max_downloads: int | None
    downloads: int = 0


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected: list[str] = field(default_factory=list)
    lost: int = 0
    corrupted: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0
    verified_files: int = 0
    lease_open: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_lease_open(self) -> None:
        with self.lock:
            self.lease_open += 1

    def record(self, endpoint: str, seconds: float, status: int | str) -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.codes[endpoint][str(status)] += 1

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.unexpected) < 200:
                self.unexpected.append(text)
            else:
                self.unexpected[-1] = f"... and more (last: {text})"

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.codes.values())

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.codes.values() for code, n in c.items() if code.startswith("5"))


def lease_still_open(response: requests.Response) -> bool:
    """The answer to a file whose last allowed download has just ended, before the server has recorded it.

    The server counts a download once its last byte is in the kernel's socket buffer;
    until the worker that sent it has written that down (a few ms), the download's
    lease is still open, so info answers 200 with one download left and one in progress,
    and a retrieve 409 download_in_progress, even to the client that has every byte. Either
    is accepted where 410 was expected, and counted in the report.
    """
    if response.status_code == 409:
        return error_code(response) == "download_in_progress"
    if response.status_code == 200 and response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            return False
        # the one allowed download left is the one still being recorded: anything else is a lost count
        return body.get("downloads_left") == 1 and body.get("downloads_in_progress") == 1
    return False


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class WorkerMonitor(RssSampler):
    """RSS, threads and open fds of every gunicorn worker (children of the master), once a second."""

    def __init__(self, master_pid: int | None, interval: float = 1.0):
        super().__init__(workers_of(master_pid) if master_pid else list, interval, details=True)
        self.master_pid = master_pid

    def start(self, boot_timeout: float = 60.0) -> WorkerMonitor:
        if self.master_pid:
            self._wait_until_booted(boot_timeout)
            super().start()
        return self

    def stop(self) -> None:
        if self.master_pid:
            super().stop()

    def _wait_until_booted(self, timeout: float) -> None:
        """Until every worker has loaded the app, so the first sample is an idle worker, not one still importing.

        A worker has loaded the app once its memory maps cryptography's library (create_app imports it).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = psutil.Process(self.master_pid).children()
            if workers and all(_loaded_the_app(worker) for worker in workers):
                return
            time.sleep(0.1)

    def report(self, warmup: float, slack: int) -> dict:
        workers = {}
        for pid, rows in self.rows.items():
            late = [(t, rss) for t, rss, _, _ in rows if t >= warmup]
            warm = max(r[1] for r in rows if r[0] <= warmup) if rows[0][0] <= warmup else rows[0][1]
            workers[str(pid)] = {
                "start_rss": rows[0][1], "warm_rss": warm, "peak_rss": max(r[1] for r in rows),
                "end_rss": rows[-1][1], "start_threads": rows[0][2], "end_threads": rows[-1][2],
                "start_fds": rows[0][3], "end_fds": rows[-1][3], "samples": len(rows),
                "first_seen": round(rows[0][0], 1), "last_seen": round(rows[-1][0], 1),
                "grew": rows[-1][1] > warm + slack or rows[-1][1] > rows[0][1] + slack,
                "second_half_trend_mib_per_min": round(_slope(late) * 60 / MIB, 2),
            }
        alive_at_end = {str(p.pid) for p in self.processes()}
        died = sorted(pid for pid in workers if pid not in alive_at_end)
        return {"measured": bool(self.master_pid and workers), "workers": workers, "died": died,
                "timeline": {str(pid): [(round(t, 1), rss) for t, rss, _, _ in rows[:: max(1, len(rows) // 60)]]
                             for pid, rows in self.rows.items()}}


def _loaded_the_app(worker: psutil.Process) -> bool:
    try:
        return any("cryptography" in mapped.path for mapped in worker.memory_maps())
    except psutil.Error:
        return False


def _slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, bytes); 0 for fewer than 3 points."""
    if len(points) < 3:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / spread if spread else 0.0


def summarize(results: Results, memory: dict, **run) -> dict:
    endpoints = {}
    for name in ENDPOINTS:
        values = results.latencies.get(name, [])
        if values:
            endpoints[name] = {"requests": len(values), "codes": dict(results.codes[name]),
                               "p50_ms": round(percentile(values, 50) * 1000, 1),
                               "p95_ms": round(percentile(values, 95) * 1000, 1),
                               "p99_ms": round(percentile(values, 99) * 1000, 1)}
    grew = [pid for pid, w in memory["workers"].items() if w["grew"]]
    goals = {
        "no_lost_files": results.lost == 0,
        "no_corrupted_files": results.corrupted == 0,
        "no_5xx": results.server_errors == 0,
        "no_unexpected_answers": not results.unexpected,
        "no_worker_died": not memory["died"],
        "rss_does_not_grow": (not grew) if memory["measured"] else None,
    }
    return {
        "run": run, "requests": results.requests, "server_errors": results.server_errors,
        "unexpected": len(results.unexpected), "unexpected_samples": results.unexpected[:20],
        "lease_still_open": results.lease_open,
        "files": {"uploaded": results.uploaded_files, "verified_at_end": results.verified_files,
                  "lost": results.lost, "corrupted": results.corrupted},
        "bytes": {"uploaded": results.uploaded_bytes, "downloaded_and_checked": results.downloaded_bytes},
        "endpoints": endpoints, "memory": memory, "goals": goals,
        "passed": all(v is not False for v in goals.values()),
    }


def print_table(report: dict) -> None:
    run = report["run"]
    print(f"\nAnon Hosting soak against {run['base_url']} ({run['target']})")
    print(f"{run['clients']} clients, {run['load_seconds']:.0f} s of load, sizes up to {run['max_size'] // MIB} MiB, "
          f"seed {run['seed']}")
    print(f"requests {report['requests']}, 5xx {report['server_errors']}, unexpected {report['unexpected']}, "
          f"files uploaded {report['files']['uploaded']}, lost {report['files']['lost']}, "
          f"corrupted {report['files']['corrupted']}, checked at the end {report['files']['verified_at_end']}")
    print(f"answers from a lease still open right after the last allowed download: {report['lease_still_open']}")
    if run.get("abusers"):
        print(f"abusers from 127.0.0.1 and .2: {run['abusers']} slow-body and {run['abusers']} slow-download "
              f"connections (renewed every {ABUSE_RENEW:.0f} s); requests they held in progress, "
              f"(bodies, downloads) per round: {run['abusers_held']}")
    print(f"bytes uploaded {report['bytes']['uploaded'] / MIB:.0f} MiB, downloaded and checked "
          f"{report['bytes']['downloaded_and_checked'] / MIB:.0f} MiB\n")
    print(f"{'endpoint':<10}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}  codes")
    for name, e in report["endpoints"].items():
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(e["codes"].items()))
        print(f"{name:<10}{e['requests']:>10}{e['p50_ms']:>10}{e['p95_ms']:>10}{e['p99_ms']:>10}  {codes}")
    memory = report["memory"]
    if memory["measured"]:
        print(f"\n{'worker':<10}{'start MiB':>10}{'warm MiB':>10}{'peak MiB':>10}{'end MiB':>10}"
              f"{'MiB/min':>9}{'threads':>10}{'fds':>10}")
        for pid, w in memory["workers"].items():
            print(f"{pid:<10}{w['start_rss'] / MIB:>10.1f}{w['warm_rss'] / MIB:>10.1f}{w['peak_rss'] / MIB:>10.1f}"
                  f"{w['end_rss'] / MIB:>10.1f}{w['second_half_trend_mib_per_min']:>9}"
                  f"{w['start_threads']:>5}->{w['end_threads']:<4}"
                  f"{w['start_fds']:>5}->{w['end_fds']:<4}")
    else:
        print("\nworker RSS: not measured (no gunicorn master PID found; pass --server-pid)")
    for text in report["unexpected_samples"]:
        print("  unexpected:", text)
    print("\ngoals: " + ", ".join(f"{k}={'n/a' if v is None else ('ok' if v else 'MISSED')}"
                                  for k, v in report["goals"].items()))
    print("PASSED" if report["passed"] else "FAILED")
