"""Latency against the number of files stored, and the sweep's cost at those sizes: point 2 of bench/scale.py.

Contract: ``latency(stacks, rounds, batch)`` takes running stacks (label -> ``Stack``),
all of one backend, and measures, interleaved (every round visits every stack, in an
order that rotates), ``batch`` sequential round trips per stack and round on one
keep-alive connection through nginx: a 4 KiB upload, its retrieve, a 1 MiB upload, its
retrieve, each timed alone; every answer is checked byte for byte, and each file is
deleted afterwards (untimed), so a store keeps its size. It returns label -> operation ->
{p50, p99, n} in seconds. ``sweep_counts(storage, service, full)`` runs a regular sweep with
nothing expired, then with ``EXPIRED`` files expired (put by ``scale_fill``), then (``full``)
a full sweep, and returns what each cost: the files removed, the seconds, and the rows (SQLite
virtual-machine steps on the sweeping thread) or the S3 requests by operation. The full sweep
runs only when asked (on S3 it is one GET per stored file, minutes at 20,000 here).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter

import perf_clients as clients
import scale_fill

MIB = 1 << 20
SIZES = {"4 KiB": 4096, "1 MiB": MIB}
EXPIRED = 1000


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "n": len(ordered)}


class Connection(clients._Connection):
    """bench/perf_clients.py's keep-alive client, which also reads a 204 (no body, no length: the delete's answer)."""

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        if not self.buffer.startswith(b"HTTP/1.1 204 "):
            return super()._response()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")[1:]
        return 204, {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, b""


def _timed(conn: Connection, path: str, content_type: str, body: bytes, extra: str = "") -> tuple:
    began = time.perf_counter()
    status, answer = conn.post(path, content_type, body, extra)
    return time.perf_counter() - began, status, answer


def _round_trip(conn: Connection, payload: bytes, samples: dict, label: str) -> None:
    seconds, status, answer = _timed(conn, "/api/files", "application/octet-stream", payload,
                                     "X-File-Name: scale.bin\r\n")
    if status != 201:
        raise RuntimeError(f"upload answered {status}: {answer[:200]!r}")
    samples[f"upload {label}"].append(seconds)
    tokens = json.loads(answer)
    seconds, status, answer = _timed(conn, "/api/files/retrieve", "application/json",
                                     json.dumps({"token": tokens["token"]}).encode())
    if status != 200 or answer != payload:
        raise RuntimeError(f"retrieve answered {status} with {len(answer)} bytes, not the {len(payload)} sent")
    samples[f"retrieve {label}"].append(seconds)
    status, answer = conn.post("/api/files/delete", "application/json",
                               json.dumps({"token": tokens["owner_token"]}).encode())
    if status != 204:
        raise RuntimeError(f"delete answered {status}")


def latency(stacks: dict, rounds: int, batch: int) -> dict:
    payloads = {label: os.urandom(size) for label, size in SIZES.items()}
    samples = {name: {f"{op} {label}": [] for op in ("upload", "retrieve") for label in SIZES} for name in stacks}
    conns = {name: Connection(stack.url) for name, stack in stacks.items()}
    names = list(stacks)
    try:
        for name in names:  # warm: a connection, a worker thread, the index's pages
            for label, payload in payloads.items():
                _round_trip(conns[name], payload, {k: [] for k in samples[name]}, label)
        for number in range(rounds):
            for name in names[number % len(names):] + names[:number % len(names)]:
                for _ in range(batch):
                    for label, payload in payloads.items():
                        _round_trip(conns[name], payload, samples[name], label)
    finally:
        for conn in conns.values():
            conn.close()
    return {name: {op: percentiles(values) for op, values in ops.items()} for name, ops in samples.items()}


def _measure(storage, call) -> dict:
    """What ``call`` costs: SQLite steps on this thread's index connection (local), or S3 requests by operation."""
    count, index = Counter(), getattr(storage, "_index", None)

    def tick() -> int:
        count["rows"] += 1
        return 0

    def request(model, **_) -> None:
        count[model.name] += 1

    if index is not None:
        index._db().set_progress_handler(tick, 1)
    else:
        storage.client.meta.events.register("before-call.s3", request)
    began = time.perf_counter()
    try:
        removed = call()
    finally:
        seconds = time.perf_counter() - began
        if index is not None:
            index._db().set_progress_handler(None, 1)
        else:
            storage.client.meta.events.unregister("before-call.s3", request)
    return {"removed": removed, "seconds": seconds, "counts": dict(count), "total": sum(count.values())}


def sweep_counts(storage, service, full: bool) -> dict:
    now = time.time()
    result = {"none expired": _measure(storage, lambda: service.sweep(now=now))}
    scale_fill.fill(storage, EXPIRED, expired=EXPIRED, now=now)
    result[f"{EXPIRED} expired"] = _measure(storage, lambda: service.sweep(now=now))
    if full:  # the daily reconciliation, for contrast: it reads every state
        result["full sweep"] = _measure(storage, lambda: service.sweep(now=now, full=True))
    return result


def format_sweeps(title: str, sweeps: dict) -> str:
    lines = [f"{title}:"]
    for what, got in sweeps.items():
        unit = "SQLite steps" if "rows" in got["counts"] else "S3 requests"
        detail = "" if unit == "SQLite steps" else " (" + ", ".join(f"{k} {v}" for k, v in
                                                                   sorted(got["counts"].items())) + ")"
        lines.append(f"  {what:>14}: removed {got['removed']:5d}, {got['total']:9d} {unit}{detail},"
                     f" {got['seconds'] * 1000:8.0f} ms")
    return "\n".join(lines)
