"""A restart of the whole server with lifecycle state in flight, on the same storage and key set.

Two burn-after-reading downloads are in flight when gunicorn is told to stop:
one client keeps reading (gunicorn's graceful stop lets it finish, and that
counts as the one download), one has paused (its worker is SIGKILLed after a
short grace, so it never completes). A file that expires in 1 s is stored
too. After a new gunicorn starts on the same folders and SECRET_KEY: neither
limited file is ever downloaded completely a second time (at most one complete
download each, counting the one before the restart), and the expired file
answers 410 and is removed by the sweeper of the new server.
"""

import json
import os
import threading

from ..integration.server import GunicornServer
from ..integration.transfer import MIB, connect, wait_until
from ..storage.stores import local_state
from .conftest import needs_root

pytestmark = needs_root
SIZE = 48 * MIB


def start_download(server, token: str, sock_holder: list):
    body = json.dumps({"token": token}).encode()
    sock = connect(server)
    sock_holder.append(sock)
    sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    head = sock.recv(1 << 16)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return sock, len(head.partition(b"\r\n\r\n")[2])


def read_to_end(sock, already: int, result: dict) -> None:
    total = already
    sock.settimeout(60)
    try:
        while piece := sock.recv(1 << 20):
            total += len(piece)
    except OSError:
        pass
    result["bytes"] = total


def complete_downloads(server, token: str) -> tuple[int, str]:
    response = server.session().post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
    if response.status_code == 200:
        return (1 if len(response.content) == SIZE else 0), "200"
    return 0, response.json()["error"]["code"]


def test_restart_with_downloads_in_flight_and_an_expiring_file(tmp_path_factory, log_audit):
    root = tmp_path_factory.mktemp("restart")
    first = GunicornServer(root, workers=2, extra_env={"SWEEP_INTERVAL": "0"})
    log_audit.watch(first)
    data = os.urandom(SIZE)
    with first:
        reading_limited = first.session().post(first.url("/api/files?max_downloads=1"), data=data, timeout=60,
                                               headers={"Content-Type": "application/octet-stream"}).json()
        paused = first.session().post(first.url("/api/files?max_downloads=1"), data=data, timeout=60,
                                      headers={"Content-Type": "application/octet-stream"}).json()
        expiring = first.session().post(first.url("/api/files?expires_in=1"), data=b"short-lived", timeout=30,
                                        headers={"Content-Type": "application/octet-stream"}).json()
        socks: list = []
        reader, got = start_download(first, reading_limited["token"], socks)
        result: dict = {}
        thread = threading.Thread(target=read_to_end, args=(reader, got, result))
        thread.start()
        paused_sock, _ = start_download(first, paused["token"], socks)  # ... and never read again
        first.stop(timeout=8)  # SIGTERM; the reader finishes in time, the paused one is SIGKILLed
        thread.join(60)
        for sock in socks:
            sock.close()
    assert result.get("bytes") == SIZE, "gunicorn's graceful stop cut a download that was being read"
    completed_before = {reading_limited["token"]: int(result.get("bytes", 0) >= SIZE), paused["token"]: 0}

    second = GunicornServer(root, workers=2, secret_key=first.secret_key, extra_env={"SWEEP_INTERVAL": "1"})
    log_audit.watch(second)
    second.issued = first.issued
    with second:
        for answer in (reading_limited, paused):
            token = answer["token"]
            for _ in range(3):
                done, code = complete_downloads(second, token)
                completed_before[token] += done
                assert code in {"200", "download_in_progress", "download_limit_reached"}, code
            assert completed_before[token] <= 1, f"max_downloads=1, downloaded {completed_before[token]} times"
        state = local_state(second.storage_dir, _storage_name(second, paused))
        # the cut download did not count; its lease (if any) runs out after lifecycle.LEASE_SECONDS
        assert state["done"] == 0 and len(state["leases"]) <= 1, state

        gone = second.session().post(second.url("/api/files/info"), json={"token": expiring["token"]}, timeout=10)
        assert (gone.status_code, gone.json()["error"]["code"]) == (410, "expired")
        name = _storage_name(second, expiring)
        assert wait_until(lambda: not {name, name + ".state"} & second.storage_entries(), timeout=20), \
            "the sweeper of the new server did not remove the expired file"
        again = second.session().post(second.url("/api/files/retrieve"), json={"token": expiring["token"]})
        assert again.status_code in (404, 410)


def _storage_name(server, answer: dict) -> str:
    from anon_hosting import keys, tokens
    return tokens.verify(answer["token"], keys.KeyRing(server.private_dir, server.secret_key)).storage_name
