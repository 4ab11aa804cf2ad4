"""Client side of the integration tests: files on disk, both upload forms, downloads, raw sockets, RSS.

Nothing here holds a whole file in memory: files are written, uploaded, downloaded
and hashed in 1 MiB pieces, and the multipart body is generated as it is sent.
"""

import hashlib
import http.client
import json
import os
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import requests
from stacklib import memory, multipart
from stacklib.answers import error_code  # noqa: F401 - the tests take it from here

from .server import GunicornServer

MIB = 1 << 20
PIECE = MIB


# -- files ----------------------------------------------------------------------

def write_random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes in 1 MiB pieces; return their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            piece = os.urandom(min(PIECE, left))
            f.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()


def wait_until(condition: Callable[[], bool], timeout: float = 10, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it is true (return True) or ``timeout`` passes (return False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# -- multipart ------------------------------------------------------------------

class MultipartBody(multipart.MultipartBody):
    """multipart/form-data with one part ``file``, read in 1 MiB pieces from ``source`` (a path or bytes)."""

    def __init__(self, source: Path | bytes, filename: str, fields: dict[str, str] | None = None,
                 field_name: str = "file"):
        self.source = source
        size = len(source) if isinstance(source, bytes) else os.path.getsize(source)
        super().__init__(self._pieces, size, filename, fields, field_name)

    def _pieces(self) -> Iterator[bytes]:
        if isinstance(self.source, bytes):
            for start in range(0, len(self.source), PIECE):
                yield self.source[start:start + PIECE]
        else:
            with open(self.source, "rb") as f:
                while piece := f.read(PIECE):
                    yield piece


class BundleBody:
    """multipart/form-data with several ``file`` parts (``(bytes, filename)`` pairs) after ``fields``."""

    def __init__(self, files: list[tuple[bytes, str]], fields: dict[str, str] | None = None):
        first = MultipartBody(b"", files[0][1], fields)
        self.boundary, self.content_type = first.boundary, first.content_type
        self.pieces = [first.head, files[0][0]]
        for data, name in files[1:]:
            self.pieces += [b"\r\n" + multipart.file_part_head(self.boundary, name), data]
        self.pieces.append(first.tail)

    def __len__(self) -> int:
        return sum(map(len, self.pieces))

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.pieces)


def upload_bundle(server: GunicornServer, files: list[tuple[bytes, str]], fields: dict[str, str] | None = None,
                  session: requests.Session | None = None) -> requests.Response:
    body = BundleBody(files, fields)
    return (session or server.session()).post(server.url("/api/files"), data=body, timeout=300,
                                              headers={"Content-Type": body.content_type})


# -- the API --------------------------------------------------------------------

def upload_raw(server: GunicornServer, source: Path | bytes, name: str,
               session: requests.Session | None = None) -> requests.Response:
    """POST /api/files with a raw body streamed from a file (or bytes) and a percent-encoded X-File-Name."""
    session = session or server.session()
    headers = {"Content-Type": "application/octet-stream", "X-File-Name": quote(name, safe="")}
    if isinstance(source, bytes):
        return session.post(server.url("/api/files"), data=source, headers=headers, timeout=300)
    with open(source, "rb") as f:
        return session.post(server.url("/api/files"), data=f, headers=headers, timeout=300)


def upload_multipart(server: GunicornServer, source: Path | bytes, name: str,
                     session: requests.Session | None = None) -> requests.Response:
    """POST /api/files as multipart/form-data, part ``file``, streamed with a Content-Length."""
    session = session or server.session()
    body = MultipartBody(source, name)
    return session.post(server.url("/api/files"), data=body, headers={"Content-Type": body.content_type},
                        timeout=300)


UPLOADERS = {"raw": upload_raw, "multipart": upload_multipart}


def info(server: GunicornServer, token: str, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).post(server.url("/api/files/info"), json={"token": token}, timeout=30)


def download_to(server: GunicornServer, token: str, dest: Path,
                session: requests.Session | None = None) -> requests.Response:
    """POST /api/files/retrieve and stream the body to ``dest``; the response is returned already consumed."""
    with (session or requests).post(server.url("/api/files/retrieve"), json={"token": token}, stream=True,
                                    timeout=300) as response:
        if response.status_code == 200:
            with open(dest, "wb") as f:
                f.writelines(response.iter_content(PIECE))
        return response


def download_bytes(server: GunicornServer, token: str, session: requests.Session | None = None) -> bytes:
    response = (session or requests).post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


# -- raw sockets ----------------------------------------------------------------

def connect(server: GunicornServer, timeout: float = 30) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def request_head(content_type: str, *, content_length: int | None = None, chunked: bool = False,
                 extra: dict[str, str] | None = None, target: str = "/api/files") -> bytes:
    """The head of a POST written by hand, for bodies that requests cannot send (cut, endless, oversized)."""
    headers = {"Host": "127.0.0.1", "Content-Type": content_type, **(extra or {})}
    if content_length is not None:
        headers["Content-Length"] = str(content_length)
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    lines = [f"POST {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_upload_head(name: str = "raw.bin", *, content_length: int | None = None, chunked: bool = False) -> bytes:
    return request_head("application/octet-stream", content_length=content_length, chunked=chunked,
                        extra={"X-File-Name": quote(name, safe="")})


def chunk_frame(data: bytes) -> bytes:
    """One piece of a Transfer-Encoding: chunked body (an empty one ends the body)."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


def send_until_answered(sock: socket.socket, pieces: Iterator[bytes]) -> int:
    """Send pieces until the server answers early or they run out; return the bytes sent.

    A server that refuses a body stops reading it, so the client stops sending as
    soon as the answer is there (or the server closed its side) rather than
    failing on a reset while writing.
    """
    sent = 0
    for piece in pieces:
        if readable(sock):
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


def read_response(sock: socket.socket, server: GunicornServer | None = None) -> tuple[int, bytes]:
    """Read one HTTP response from ``sock``: (status, body). A 201's tokens are recorded on ``server``."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    if response.status == 201 and server is not None:
        server.record_answer(json.loads(body))
    return response.status, body


def readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


# -- worker memory --------------------------------------------------------------

def RssSampler(server: GunicornServer, interval: float = 0.02) -> memory.RssSampler:  # noqa: N802 - used as a class
    """The RSS of every gunicorn worker of ``server``, sampled in a background thread while in ``with``."""
    return memory.RssSampler(memory.workers_of(server.process.pid), interval)
