"""Clients that vanish at random points of uploads and downloads: nothing leaks, no slot stays taken.

24 rounds from a seeded PRNG, each one raw-socket client that sends or reads
up to a random offset and then closes (half of them with an RST instead of a
FIN). Uploads are cut anywhere in the head or body of either upload form;
downloads are cut anywhere in the first quarter of a 24 MiB burn-after-reading
file (far more than the kernel's socket buffers hold, so the server sees the
cut; with at most 4 MiB in its send buffer and a 1 MiB chunk in hand, it has
handed out less than half, which would count: lifecycle.counts). Afterwards:
no temp file, no blob without its state and no state without its blob, the
file still has its one download (downloads_left 1, no lease left in its
state) and downloads once byte for byte, and each worker's open files,
threads and RSS are back near what they were after a warm-up. The index's own
files are counted apart: a thread opens its SQLite connection the first time it
reads or leads a commit, which a warm-up cannot force on every thread (one whose
writes all joined another thread's group commit has none yet), so they are held
to one connection per thread instead.
"""

import hashlib
import json
import os
import random
import socket
import struct
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from anon_hosting.storage.local import INDEX

from ..integration.transfer import MIB, MultipartBody, connect, raw_upload_head, request_head, upload_raw, wait_until
from ..storage.stores import local_state
from .conftest import storage_kinds

ROUNDS = 24
SEED = 20261126
FILE_SIZE = 24 * MIB
RSS_SLACK = 24 * MIB


@pytest.fixture(scope="module")
def cut_server(serve):
    with serve("disconnects", workers=2, extra_env={"SWEEP_INTERVAL": "0"}) as server:
        server.wait_for_workers(2)
        yield server


def worker_figures(server) -> dict[int, tuple[int, int, int, int]]:
    """pid -> (open fds other than the index's, SQLite connections to the index, threads, RSS)."""
    figures = {}
    for pid in server.worker_pids():
        proc = psutil.Process(pid)
        targets = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except FileNotFoundError:  # closed meanwhile
                continue
        index = [t for t in targets if os.path.basename(t).startswith(INDEX)]
        connections = sum(os.path.basename(t) == INDEX for t in index)
        figures[pid] = (len(targets) - len(index), connections, proc.num_threads(), proc.memory_info().rss)
    return figures


def warm_up(server, data: bytes) -> None:
    """Fill every worker's thread pool and buffers with whole, uncut transfers."""
    def one(_):
        with server.session() as session:
            response = upload_raw(server, data[:4 * MIB], "warm.bin", session=session)
            token = response.json()["token"]
            got = session.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
            assert got.content == data[:4 * MIB]
            session.post(server.url("/api/files/delete"), json={"token": response.json()["owner_token"]})
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(32)))


def close(sock: socket.socket, rng: random.Random) -> None:
    if rng.random() < 0.5:  # RST instead of FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def cut_upload(server, rng: random.Random) -> None:
    size = rng.randrange(1, 8 * MIB)
    if rng.random() < 0.5:
        head, body = raw_upload_head("cut.bin", content_length=size), os.urandom(size)
    else:
        multipart = MultipartBody(os.urandom(size), "cut.bin")
        body = b"".join(multipart)
        head = request_head(multipart.content_type, content_length=len(body))
    everything = head + body
    cut = rng.randrange(1, len(everything))  # anywhere, never the whole request
    sock = connect(server)
    try:
        sock.sendall(everything[:cut])
    finally:
        close(sock, rng)


def cut_download(server, token: str, rng: random.Random) -> None:
    body = json.dumps({"token": token}).encode()
    sock = connect(server)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    try:
        sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        want, got = rng.randrange(0, FILE_SIZE // 4), 0
        while got < want:
            piece = sock.recv(min(1 << 16, want - got) or 1)
            if not piece:
                break
            got += len(piece)
    finally:
        close(sock, rng)


def leases(server, name: str) -> dict:
    return local_state(server.storage_dir, name)["leases"]


def test_random_disconnects_leak_nothing_and_keep_the_download_slot(cut_server):
    server, rng = cut_server, random.Random(SEED)
    data = os.urandom(FILE_SIZE)
    warm_up(server, data)
    baseline = worker_figures(server)
    before = storage_kinds(server.storage_entries())["blobs"]
    limited = server.session().post(server.url("/api/files?max_downloads=1"), data=data, timeout=60,
                                     headers={"Content-Type": "application/octet-stream", "X-File-Name": "once.bin"})
    assert limited.status_code == 201, limited.text
    token, known = limited.json()["token"], storage_kinds(server.storage_entries())
    [once] = known["blobs"] - before

    kinds = []
    for _ in range(ROUNDS):
        kind = rng.choice(["upload", "download"])
        kinds.append(kind)
        cut_upload(server, rng) if kind == "upload" else cut_download(server, token, rng)
    assert {"upload", "download"} <= set(kinds)

    def settled() -> bool:
        k = storage_kinds(server.storage_entries())
        return not k["temps"] and k["blobs"] == k["states"] == known["blobs"] and not leases(server, once)
    assert wait_until(settled, timeout=30), (storage_kinds(server.storage_entries()), leases(server, once))

    info = server.session().post(server.url("/api/files/info"), json={"token": token}, timeout=10).json()
    assert info["downloads_left"] == 1
    # one connection for both: its worker records the download before it reads the next request, while a new
    # connection could reach the other worker in the moment between the last byte and that record
    session = server.session()
    got = session.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
    assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    again = session.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=10)
    assert (again.status_code, again.json()["error"]["code"]) == (410, "download_limit_reached")

    def near_baseline() -> bool:
        now = worker_figures(server)
        return set(now) == set(baseline) and all(
            now[pid][0] <= baseline[pid][0] + 1 and now[pid][1] <= now[pid][2] <= baseline[pid][2]
            and now[pid][3] <= baseline[pid][3] + RSS_SLACK for pid in now)
    assert wait_until(near_baseline, timeout=20), (baseline, worker_figures(server))
