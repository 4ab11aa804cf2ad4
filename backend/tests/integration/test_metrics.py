"""GET /metrics of a real gunicorn with two workers: the counts of every worker, a killed one's included,
a metrics folder emptied at start, and a download cut short (client gone, or stalled) counted and logged in
one line without a traceback."""

import os
import signal
import socket
import struct
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .server import GunicornServer
from .transfer import connect, download_bytes, upload_raw, wait_until

MIB = 1 << 20


def scrape(server: GunicornServer) -> dict[tuple, float]:
    answer = requests.get(server.url("/metrics"), timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(figures: dict, name: str, **labels) -> float:
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


def settled(server: GunicornServer, expected: dict[tuple, float]) -> dict[tuple, float]:
    """A scrape once it shows ``expected`` (each worker writes its counts at most metrics.FLUSH_EVERY late)."""
    figures: dict = {}

    def shows() -> bool:
        figures.update(scrape(server))
        return all(value(figures, name, **dict(labels)) == want for (name, labels), want in expected.items())

    assert wait_until(shows, timeout=30), {key: value(figures, key[0], **dict(key[1])) for key in expected}
    return figures


def test_every_worker_counts_and_a_killed_workers_counts_stay(serve):
    with serve("metrics-workers", workers=2) as server:
        session = server.session()
        files = [os.urandom(size) for size in (1, 1000, 70_000, 1000)]
        tokens = [upload_raw(server, data, f"f{i}.bin", session).json()["token"] for i, data in enumerate(files)]
        assert [download_bytes(server, token, session) for token in tokens] == files
        for _ in range(20):  # enough requests, on new connections, for both workers to serve some
            assert requests.get(server.url("/api/config"), timeout=30).status_code == 200
        before = settled(server, {
            ("anon_hosting_uploads_total", (("code", ""), ("outcome", "completed"))): 4,
            ("anon_hosting_downloads_total", (("code", ""), ("outcome", "completed"))): 4,
            ("anon_hosting_upload_bytes_total", ()): sum(map(len, files)),
            ("anon_hosting_download_bytes_total", ()): sum(map(len, files)),
            ("anon_hosting_requests_total", (("route", "/api/config"), ("status", "200"))): 20,
            ("anon_hosting_request_duration_seconds_count", (("route", "/api/files"),)): 4,
        })
        assert value(before, "anon_hosting_files_stored") == 4
        assert value(before, "anon_hosting_storage_free_bytes") > 0
        assert value(before, "anon_hosting_scrypt_in_flight") == 0

        old = server.wait_for_workers(2)
        os.kill(old[0], signal.SIGKILL)
        assert wait_until(lambda: old[0] not in server.worker_pids() and len(server.worker_pids()) == 2, timeout=30)
        after = scrape(server)
        for key in [("anon_hosting_uploads_total", (("code", ""), ("outcome", "completed"))),
                    ("anon_hosting_requests_total", (("route", "/api/config"), ("status", "200")))]:
            assert after[key] == before[key], key


def test_the_metrics_folder_is_emptied_at_start(serve, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"values of an earlier run")
    with serve("metrics-folder", extra_env={"PROMETHEUS_MULTIPROC_DIR": str(folder)}) as server:
        assert not (folder / "counter_99999.db").exists()
        assert value(scrape(server), "anon_hosting_uploads_total", outcome="completed", code="") == 0
        assert list(folder.glob("*.db"))  # the workers' own files


@pytest.fixture(scope="module")
def impatient(serve):
    """A server whose socket timeout is one second, so a reader that stalls is dropped at once."""
    with serve("metrics-cut", extra_env={"GUNICORN_SOCKET_TIMEOUT": "1"}) as server:
        yield server


def start_download(server: GunicornServer, token: str) -> socket.socket:
    sock = connect(server)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = b'{"token": "%s"}' % token.encode()
    sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


@pytest.mark.parametrize("how", ["reset", "closed", "stalled"])
def test_a_download_cut_short_is_one_line_and_no_traceback(impatient, how):
    server = impatient
    token = upload_raw(server, os.urandom(32 * MIB), "big.bin").json()["token"]
    seen = len(server.log_text().splitlines())
    cut = value(settled(server, {}), "anon_hosting_downloads_total", outcome="cut_short", code="")
    sock = start_download(server, token)
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if how != "stalled":
        sock.close()

    def cut_lines() -> list[str]:
        return [line for line in server.log_text().splitlines()[seen:] if "download cut short" in line]

    assert wait_until(lambda: len(cut_lines()) == 1, timeout=30), server.log_tail()
    sock.close()
    settled(server, {("anon_hosting_downloads_total", (("code", ""), ("outcome", "cut_short"))): cut + 1})
    time.sleep(0.2)  # anything gunicorn would write after the app's line
    new = server.log_text().splitlines()[seen:]
    assert not [line for line in new if "Traceback" in line or "[ERROR]" in line], "\n".join(new)
