"""serving/body.py: a body read from gunicorn's own parser and socket equals what was sent, and leaves the
connection where gunicorn expects the next request (a real socket pair, gunicorn's parser and environ)."""

import os
import socket
import threading

import pytest

from anon_hosting.serving.body import socket_body

from .gunicorn_request import parse

MIB = 1 << 20


def _head(length: int) -> bytes:
    return f"POST /api/files HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()


def _send_in_pieces(sock: socket.socket, data: bytes, sizes=(1, 7, 5000, 65536, 300_000)) -> None:
    n, at = 0, 0
    while at < len(data):
        size = sizes[n % len(sizes)]
        sock.sendall(data[at:at + size])
        at, n = at + size, n + 1


@pytest.fixture
def pair():
    client, server = socket.socketpair()
    server.settimeout(10)
    yield client, server
    client.close()
    server.close()


def test_the_body_comes_whole_in_reads_of_the_size_asked_and_the_next_request_is_left_to_gunicorn(pair):
    client, server = pair
    body = os.urandom(3 * MIB + 12345)
    following = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
    sender = threading.Thread(target=_send_in_pieces, args=(client, _head(len(body)) + body + following))
    sender.start()
    parser, environ = parse(server)
    read = socket_body(environ)
    pieces = []
    while piece := read(MIB):
        pieces.append(piece)
    sender.join()
    assert b"".join(pieces) == body
    assert [len(p) for p in pieces] == [MIB, MIB, MIB, 12345], "every read but the last is as long as asked"
    assert read(MIB) == b""
    assert environ["wsgi.input"].reader.length == 0 and not environ["wsgi.input"].failed
    following_request = next(parser)
    assert (following_request.method, following_request.path) == ("GET", "/api/health")


def test_bytes_gunicorn_already_holds_come_first(pair):
    client, server = pair
    body = os.urandom(200_000)
    client.sendall(_head(len(body)) + body)
    _, environ = parse(server)
    first = environ["wsgi.input"].read(10)  # gunicorn's Body now holds read-ahead of its own
    read = socket_body(environ)
    rest = b""
    while piece := read(65536):
        rest += piece
    assert first + rest == body


def test_a_cut_body_is_short_and_then_empty(pair):
    client, server = pair
    client.sendall(_head(MIB) + bytes(1000))
    client.shutdown(socket.SHUT_WR)
    _, environ = parse(server)
    read = socket_body(environ)
    assert read(MIB) == bytes(1000)
    assert read(MIB) == b""


def test_a_stalled_body_raises_and_marks_the_connection_failed(pair):
    client, server = pair
    client.sendall(_head(MIB) + bytes(1000))
    _, environ = parse(server)
    server.settimeout(0.2)
    read = socket_body(environ)
    with pytest.raises(TimeoutError):
        read(MIB)
    assert environ["wsgi.input"].failed, "gunicorn must not reuse a connection whose body position is unknown"


def test_other_servers_and_bodies_without_a_length_are_left_to_wsgi_input(pair):
    client, server = pair
    assert socket_body({"wsgi.input": object()}) is None
    client.sendall(b"POST /api/files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    _, environ = parse(server)
    assert socket_body(environ) is None
