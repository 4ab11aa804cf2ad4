"""kill -9 of the gunicorn worker in the middle of an upload, then in the middle of a download.

One worker, so the request in flight is certainly on the worker that dies. The
gunicorn master starts a new worker; then every upload acknowledged before the
kill downloads byte for byte, the cut upload has no blob and no state, and its
temp file, still there after the kill, is removed by the sweep: first proved
*not* to go while it is younger than 10 s, then aged with os.utime and swept by
``flask --app anon_hosting sweep``, the operator command, run on the same storage.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ..integration.server import BACKEND_DIR, gunicorn_env
from ..integration.transfer import MIB, connect, raw_upload_head, upload_raw, wait_until
from .conftest import needs_root, storage_kinds

pytestmark = needs_root
FLASK = Path(sys.executable).parent / "flask"


@pytest.fixture(scope="module")
def lone_worker(serve):
    with serve("worker-kill", workers=1, extra_env={"SWEEP_INTERVAL": "0"}) as server:
        server.wait_for_workers(1)
        yield server


def acknowledged_uploads(server, count: int = 6) -> dict[str, str]:
    files = {}
    for number in range(count):
        data = os.urandom(number * 700_000 + 1)
        response = upload_raw(server, data, f"kept-{number}.bin")
        assert response.status_code == 201, response.text
        files[response.json()["token"]] = hashlib.sha256(data).hexdigest()
    return files


def assert_all_retrievable(server, files: dict[str, str]) -> None:
    for token, digest in files.items():
        response = server.session().post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
        assert response.status_code == 200, response.text
        assert hashlib.sha256(response.content).hexdigest() == digest


def kill_worker_and_wait_for_a_new_one(server) -> None:
    [victim] = server.worker_pids()
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: server.worker_pids() and victim not in server.worker_pids(), timeout=30), \
        "the master did not start a new worker"
    assert wait_until(lambda: _healthy(server), timeout=30)


def _healthy(server) -> bool:
    try:
        return server.session().get(server.url("/api/health"), timeout=5).status_code == 200
    except OSError:
        return False


def sweep(server) -> str:
    env = gunicorn_env(server.storage_dir, server.private_dir, server.secret_key)
    result = subprocess.run([str(FLASK), "--app", "anon_hosting", "sweep"], cwd=BACKEND_DIR, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_kill_9_during_an_upload(lone_worker):
    server = lone_worker
    files = acknowledged_uploads(server)
    before = storage_kinds(server.storage_entries())
    with connect(server) as sock:
        sock.sendall(raw_upload_head("cut.bin", content_length=64 * MIB))
        sock.sendall(os.urandom(24 * MIB))
        assert wait_until(lambda: storage_kinds(server.storage_entries())["temps"], timeout=20)
        kill_worker_and_wait_for_a_new_one(server)
    after = storage_kinds(server.storage_entries())
    assert after["blobs"] == before["blobs"] and after["states"] == before["states"], "the cut upload is visible"
    [temp] = after["temps"]  # the dead writer's temp file is still there: the sweep has work to do
    assert_all_retrievable(server, files)

    sweep(server)
    assert temp in server.storage_entries(), "a temp file younger than 10 s must be spared (it may be live)"
    old = time.time() - 60
    os.utime(server.storage_dir / temp, (old, old))
    assert temp in server.storage_entries()
    sweep(server)  # the app factory sweeps temp files as it starts, then the command sweeps the rest
    assert storage_kinds(server.storage_entries())["temps"] == set(), "the dead writer's temp file was not swept"
    assert_all_retrievable(server, files)


def test_kill_9_during_a_download(lone_worker):
    server = lone_worker
    files = acknowledged_uploads(server, 3)
    big = os.urandom(40 * MIB)
    response = upload_raw(server, big, "big.bin")
    token = response.json()["token"]
    files[token] = hashlib.sha256(big).hexdigest()
    before = server.storage_entries()
    body = f'{{"token": "{token}"}}'.encode()
    with connect(server) as sock:
        sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        received = b""
        while len(received) < 3 * MIB:
            received += sock.recv(1 << 16)
        assert received.startswith(b"HTTP/1.1 200")
        kill_worker_and_wait_for_a_new_one(server)
        cut_short = _drain(sock)
    assert len(received) + cut_short < len(big), "the download was not in flight when the worker died"
    assert server.storage_entries() == before, "a download changed storage"
    assert_all_retrievable(server, files)


def _drain(sock) -> int:
    sock.settimeout(5)
    total = 0
    try:
        while chunk := sock.recv(1 << 20):
            total += len(chunk)
    except OSError:
        pass
    return total


def test_no_worker_process_leaked(lone_worker):
    master = psutil.Process(lone_worker.process.pid)
    assert len(master.children(recursive=True)) == 1
