"""Large transfers never take every thread of a worker (serving/worker.py): real gunicorn, one worker.

Three uploads that stall mid-body would hold all three threads of plain gthread, and every other
request would wait for them (for GUNICORN_SOCKET_TIMEOUT, 120 s). With one thread for transfers, the
first holds it and the others wait in the worker's queue, while health, a 4 KiB upload and its info
are answered on the other two threads. A transfer that arrives whole meanwhile waits its turn and is
answered once the stalled ones are gone; GET /metrics counts them, running and waiting.
"""

import json
import os
import select
import socket
import time

import pytest

TIMEOUT = 15  # seconds a short request may take on a loaded machine; a starved one would take 120
EXTRA = {"GUNICORN_THREADS": "3", "GUNICORN_TRANSFER_THREADS": "1"}
BIG = 256 * 1024  # over serving/lanes.py's SHORT_BODY_MAX: a transfer


def _upload_head(port: int, length: int) -> bytes:
    return (f"POST /api/files HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n"
            f"X-File-Name: lane.bin\r\nContent-Length: {length}\r\n\r\n").encode()


def _answers(sock: socket.socket, count: int = 1) -> list[tuple[str, bytes]]:
    """The next ``count`` answers on ``sock``: status line and body of each."""
    data, found = b"", []
    while len(found) < count:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and len(rest) >= _length(data):
            body, data = rest[:_length(data)], rest[_length(data):]
            found.append((head.split(b"\r\n")[0].decode(), body))
            continue
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    return found


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def _transfers(server, session, running: int, waiting: int) -> bool:
    """Whether GET /metrics (itself short work) reports these counts within TIMEOUT: transfers reach the lane
    as their bytes arrive."""
    want = {f'anon_hosting_transfers{{state="{state}"}} {count}.0'
            for state, count in (("running", running), ("waiting", waiting))}
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        lines = set(session.get(server.url("/metrics"), timeout=TIMEOUT).text.splitlines())
        if want <= lines:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def lane_server(serve):
    with serve("transfer-lane", workers=1, extra_env=EXTRA) as server:
        yield server


def test_short_requests_are_answered_while_transfers_hold_and_queue(lane_server):
    port = lane_server.port
    stalled = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sock.sendall(_upload_head(port, BIG) + bytes(1000))
        stalled.append(sock)
    whole = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        whole.sendall(_upload_head(port, BIG) + bytes(BIG))
        session = lane_server.session()
        assert session.get(lane_server.url("/api/health"), timeout=TIMEOUT).status_code == 200
        small = session.post(lane_server.url("/api/files"), data=bytes(4096), timeout=TIMEOUT,
                             headers={"Content-Type": "application/octet-stream", "X-File-Name": "small.bin"})
        assert small.status_code == 201, small.text
        info = session.post(lane_server.url("/api/files/info"), json={"token": small.json()["token"]}, timeout=TIMEOUT)
        assert info.status_code == 200 and info.json()["size"] == 4096, info.text

        assert _transfers(lane_server, session, running=1, waiting=3), "anon_hosting_transfers never said 1 and 3"

        readable, _, _ = select.select([whole], [], [], 1.0)
        assert not readable, "a whole transfer was served while a stalled one held the only transfer thread"
        for sock in stalled:
            sock.close()  # each cut upload ends and frees the transfer thread for the next in line
        (status, body), = _answers(whole)
        answer = json.loads(body)
        assert status.startswith("HTTP/1.1 201"), (status, answer)
        lane_server.record_answer(answer)
        got = session.post(lane_server.url("/api/files/retrieve"), json={"token": answer["token"]}, timeout=TIMEOUT)
        assert got.status_code == 200 and got.content == bytes(BIG)
    finally:
        whole.close()
        for sock in stalled:
            sock.close()
    assert _transfers(lane_server, lane_server.session(), running=0, waiting=0), "the gauges did not go back to 0"
    names = {entry.removesuffix(".state") for entry in lane_server.storage_entries()} - {".sweeper.lock"}
    assert len(names) == 2, f"the two uploads that arrived whole, and nothing of the cut ones: {names}"


def test_pipelined_requests_are_each_answered_in_their_lane(lane_server):
    """gunicorn reads a pipelined request with the one before it: the lane is chosen from those bytes, and
    the worker's main thread never waits on the socket for more (it serves every other connection)."""
    port, data = lane_server.port, os.urandom(5000)
    session = lane_server.session()
    token = session.post(lane_server.url("/api/files"), data=data, timeout=TIMEOUT,
                         headers={"Content-Type": "application/octet-stream", "X-File-Name": "p.bin"}).json()["token"]
    retrieve = json.dumps({"token": token}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
                     + f"POST /api/files/retrieve HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(retrieve)}\r\n\r\n".encode() + retrieve)
        (first, health), (second, got) = _answers(sock, 2)
    assert first.startswith("HTTP/1.1 200") and json.loads(health) == {"status": "ok"}, (first, health)
    assert second.startswith("HTTP/1.1 200") and got == data, second
