"""Lifecycle rules against a real gunicorn with several workers, over HTTP."""

import os
import socket
import threading

import pytest

from .transfer import wait_until

RAW = {"Content-Type": "application/octet-stream", "X-File-Name": "f.bin"}


@pytest.fixture(scope="module")
def busy_server(serve):
    with serve("lifecycle", workers=4, extra_env={"SWEEP_INTERVAL": "1"}) as server:
        server.wait_for_workers(4)
        yield server


def upload(server, data, query=""):
    response = server.session().post(server.url(f"/api/files{query}"), data=data, headers=RAW, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.site
def test_eight_concurrent_retrieves_of_a_burn_after_reading_file_give_exactly_one_download(busy_server):
    data = os.urandom(8 * 1024 * 1024 + 3)
    token = upload(busy_server, data, "?max_downloads=1")["token"]
    start, results = threading.Barrier(8), []

    def fetch():
        session = busy_server.session()
        start.wait()
        response = session.post(busy_server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
        results.append((response.status_code, response.content if response.ok else response.json()["error"]["code"]))

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    successes = [body for status, body in results if status == 200]
    assert len(successes) == 1 and successes[0] == data
    assert {(status, body) for status, body in results if status != 200} <= {
        (409, "download_in_progress"), (410, "download_limit_reached")}

    def counted() -> bool:
        # the winner's last byte can reach its client a moment before its worker records the download; until
        # then the only other answer is that one download is running (a new session may reach another worker)
        after = busy_server.session().post(busy_server.url("/api/files/info"), json={"token": token}, timeout=10)
        if after.status_code == 200:
            assert (after.json()["downloads_left"], after.json()["downloads_in_progress"]) == (1, 1)
            return False
        assert (after.status_code, after.json()["error"]["code"]) == (410, "download_limit_reached")
        return True
    assert wait_until(counted, timeout=10)


@pytest.mark.site
def test_a_download_cut_off_by_the_client_does_not_use_up_the_limit(busy_server):
    data = os.urandom(32 * 1024 * 1024)
    token = upload(busy_server, data, "?max_downloads=1")["token"]
    body = f'{{"token": "{token}"}}'.encode()
    with socket.create_connection(("127.0.0.1", busy_server.port)) as sock:
        sock.sendall(b"POST /api/files/retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    # the socket is closed after one read: the server's next writes fail and it releases the slot
    info = lambda: busy_server.session().post(  # noqa: E731
        busy_server.url("/api/files/info"), json={"token": token}, timeout=10).json()
    assert wait_until(lambda: info().get("downloads_left") == 1, timeout=20)
    got = busy_server.session().post(busy_server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
    assert got.status_code == 200 and got.content == data


@pytest.mark.site
def test_delete_through_any_worker_makes_the_file_gone_everywhere(busy_server):
    answer = upload(busy_server, b"bye")
    session = busy_server.session()
    assert session.post(busy_server.url("/api/files/delete"), json={"token": answer["token"]}).status_code == 403
    assert session.post(busy_server.url("/api/files/delete"), json={"token": answer["owner_token"]}).status_code == 204
    for _ in range(8):  # several connections, so several workers answer
        gone = busy_server.session().post(busy_server.url("/api/files/info"), json={"token": answer["token"]})
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")


def test_the_background_sweeper_deletes_expired_files(busy_server):
    before = busy_server.storage_entries()
    answer = upload(busy_server, b"short-lived", "?expires_in=1")
    mine = {p for p in busy_server.storage_entries() - before if not p.startswith(".")}
    assert len(mine) == 2, mine  # the blob and its state
    assert wait_until(lambda: not (mine & busy_server.storage_entries()), timeout=15), "the sweeper never ran"
    expired = busy_server.session().post(busy_server.url("/api/files/retrieve"), json={"token": answer["token"]})
    assert (expired.status_code, expired.json()["error"]["code"]) == (410, "expired")


@pytest.mark.site
def test_passphrase_attempts_are_counted_across_workers(busy_server):
    response = busy_server.session().post(busy_server.url("/api/files"), data=b"locked",
                                          headers={**RAW, "X-Passphrase": "right"})
    token = response.json()["token"]
    codes = []
    for _ in range(11):
        attempt = busy_server.session().post(busy_server.url("/api/files/info"),
                                             json={"token": token, "passphrase": "wrong"}, timeout=30)
        codes.append(attempt.json()["error"]["code"])
    assert codes[:10] == ["wrong_passphrase"] * 10 and codes[10] == "rate_limited"
