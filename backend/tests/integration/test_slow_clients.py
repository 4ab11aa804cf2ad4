"""Slow clients cannot starve the service: the real nginx + gunicorn (scripts/stack.py, default limits).

From 127.0.0.1, 64 connections either trickle or stall request bodies (to info,
retrieve and upload), or read a 32 MiB download through a 4 KiB window slowly or
not at all (bench/abuse.py, which also measures the latencies). Meanwhile
/api/health and a 4 KiB upload plus its retrieve from other loopback addresses
must succeed. A starved service never answers them: each probe allows
``PROBE_TIMEOUT``, generous for a loaded machine, and the old configuration
(unbuffered token bodies, 20 requests per address on 16 threads) failed every
probe. Each test also checks that the attack really held requests in progress,
so a passing run is not an attack that nginx merely refused.

The last test is gunicorn's own guard, reached without nginx: a socket timeout
frees a thread from a stalled body.
"""

import json
import socket
import sys
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))

import abuse  # noqa: E402
from stack import NGINX_LIMITS  # noqa: E402

CONNECTIONS = 64
PROBE_TIMEOUT = 10.0
THREADS = 2 * 8  # gunicorn.conf.py's defaults: workers x threads


@pytest.fixture(scope="module")
def stack(serve_stack):
    with serve_stack("slow-clients") as running:
        yield running


def _probe(port: int, first_address: int) -> abuse.Probe:
    probe = abuse.Probe(port, first_address, timeout=PROBE_TIMEOUT)
    for n in range(8):
        probe.check_health()
        if n % 3 == 0:
            probe.check_transfer()
        if probe.failures:  # starved: one timeout says it, more would only make the run long
            break
    return probe


def test_slow_request_bodies_leave_health_and_other_clients_answering(stack):
    attack = abuse.SlowBodies(stack.web_port, CONNECTIONS)
    try:
        time.sleep(1)  # nginx takes in the 64 requests; not a measurement
        probe = _probe(stack.web_port, first_address=2)
        in_progress = attack.held()
    finally:
        attack.close()
    assert not probe.failures, probe.failures
    assert len(probe.health) == 8 and len(probe.transfer) == 3
    assert in_progress >= THREADS, "the attack must hold more requests than gunicorn has threads"


def test_slow_download_readers_leave_health_and_other_clients_answering(stack):
    token = abuse.upload(stack.web_port, abuse.BIG_FILE, "127.0.0.250")
    attack = abuse.SlowReaders(stack.web_port, CONNECTIONS, token)
    try:
        time.sleep(1)
        probe = _probe(stack.web_port, first_address=20)
        in_progress = attack.held()
    finally:
        attack.close()
    assert not probe.failures, probe.failures
    assert len(probe.health) == 8 and len(probe.transfer) == 3
    # At least one slow reader holds a download (a gunicorn thread) and no more than the per-address cap do.
    assert 1 <= in_progress <= int(NGINX_LIMITS["TRANSFERS_PER_IP"])


def test_a_stalled_body_sent_straight_to_gunicorn_loses_its_thread_to_the_socket_timeout(serve):
    extra = {"GUNICORN_THREADS": "2", "GUNICORN_SOCKET_TIMEOUT": "1"}
    with serve("socket-timeout", workers=1, extra_env=extra) as server:
        stalled = []
        for _ in range(2):  # every thread of the only worker
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=PROBE_TIMEOUT * 3)
            sock.sendall(b"POST /api/files HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                         b"X-File-Name: s.bin\r\nContent-Length: 500\r\n\r\n" + b"11 bytes...")
            stalled.append(sock)
        try:
            health = requests.get(server.url("/api/health"), timeout=PROBE_TIMEOUT * 3)
            answers = [_read_to_close(sock).decode("latin-1") for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()
        assert health.status_code == 200
        for answer in answers:
            head, _, body = answer.partition("\r\n\r\n")
            assert head.startswith("HTTP/1.1 408"), answer
            assert json.loads(body)["error"]["code"] == "request_timeout"
        assert server.storage_entries() <= {".sweeper.lock"}, "a timed-out upload leaves nothing behind"


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes: its head and body may come in separate segments."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data
