"""HTTP calls to an Anon Hosting server, with the standard library only.

Contract: ``Client(base_url)`` has one method per API route. Bodies stream in
``PIECE``-sized reads both ways, so memory stays flat whatever the file size.
A failure the server reports raises ``ApiError`` (its status, ``code`` and
``message`` from the JSON error shape); a connection that fails, times out or
answers something that is not HTTP raises ``NetworkError``. Tokens travel only
in POST bodies, never in a URL.
"""

import http.client
import json
import select
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, unquote, urlencode, urlsplit

PIECE = 1 << 20
TIMEOUT = 60
USER_AGENT = "anon-hosting-cli/0.1"


class NetworkError(Exception):
    """The server could not be reached, or the connection broke."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


@dataclass
class Download:
    """An open retrieve answer: ``name`` and ``size`` from its headers, ``chunks()`` its body."""

    name: str
    size: int | None
    _response: http.client.HTTPResponse
    _connection: http.client.HTTPConnection

    def chunks(self) -> Iterator[bytes]:
        try:
            while piece := self._response.read(PIECE):
                yield piece
        except (OSError, http.client.HTTPException) as exc:
            raise NetworkError(f"the download broke off: {exc}") from None

    def close(self) -> None:
        self._connection.close()


class Client:
    def __init__(self, base_url: str, timeout: float = TIMEOUT):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path.rstrip("/")
        self.timeout = timeout

    def share_link(self, token: str) -> str:
        return f"{self.base_url}/#{token}"

    # -- routes ------------------------------------------------------------------

    def config(self) -> dict:
        return self._json("GET", "/api/config")

    def upload(self, source: BinaryIO, size: int, name: str, *, expires_in: int | None = None,
               max_downloads: int | None = None, passphrase: str | None = None, password: str | None = None,
               progress: Callable[[int], None] = lambda n: None) -> dict:
        """POST /api/files as a raw body of exactly ``size`` bytes read from ``source``."""
        query = {k: v for k, v in (("expires_in", expires_in), ("max_downloads", max_downloads)) if v is not None}
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size),
                   "X-File-Name": quote(name, safe="")}
        if passphrase:
            headers["X-Passphrase"] = quote(passphrase, safe="")
        if password:
            headers["Authorization"] = f"Bearer {password}"
        return self._post_body("/api/files" + ("?" + urlencode(query) if query else ""), headers, source, size,
                               progress)

    def upload_bundle(self, body: BinaryIO, size: int, content_type: str, *, password: str | None = None,
                      progress: Callable[[int], None] = lambda n: None) -> dict:
        """POST /api/files as the multipart ``body`` (options as form fields, one ``file`` part per file)."""
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        if password:
            headers["Authorization"] = f"Bearer {password}"
        return self._post_body("/api/files", headers, body, size, progress)

    def _post_body(self, path: str, headers: dict, source: BinaryIO, size: int,
                   progress: Callable[[int], None]) -> dict:
        connection = self._connect()
        try:
            self._begin(connection, "POST", path, headers)
            _send_file(connection, source, size, progress)
            response = connection.getresponse()
            return _json_answer(response, response.read())
        except (OSError, http.client.HTTPException) as exc:
            raise NetworkError(_describe(exc)) from None
        finally:
            connection.close()

    def info(self, token: str, passphrase: str | None = None) -> dict:
        return self._json("POST", "/api/files/info", _credentials(token, passphrase))

    def retrieve(self, token: str, passphrase: str | None = None, file: int | None = None) -> Download:
        """Open a download (a bundle's file ``file``, or its zip); the caller reads ``chunks()`` and must
        ``close()`` it."""
        body = {**_credentials(token, passphrase), **({} if file is None else {"file": file})}
        connection = self._connect()
        try:
            response = self._call(connection, "POST", "/api/files/retrieve", body)
            if response.status != 200:
                _json_answer(response, response.read())
                raise NetworkError(f"unexpected answer {response.status} to a download")
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise NetworkError(_describe(exc)) from None
        except BaseException:
            connection.close()
            raise
        length = response.getheader("Content-Length")
        size = int(length) if length is not None and length.isdigit() else None
        return Download(_filename(response.getheader("Content-Disposition", "")), size, response, connection)

    def delete(self, owner_token: str) -> None:
        self._json("POST", "/api/files/delete", _credentials(owner_token, None))

    # -- plumbing -----------------------------------------------------------------

    def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        connection = self._connect()
        try:
            response = self._call(connection, method, path, body)
            return _json_answer(response, response.read())
        except (OSError, http.client.HTTPException) as exc:
            raise NetworkError(_describe(exc)) from None
        finally:
            connection.close()

    def _call(self, connection: http.client.HTTPConnection, method: str, path: str,
              body: dict | None) -> http.client.HTTPResponse:
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Content-Length": str(len(data))}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self._begin(connection, method, path, headers)
            connection.send(data)
            return connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise NetworkError(_describe(exc)) from None

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return kind(self._netloc, timeout=self.timeout)

    def _begin(self, connection: http.client.HTTPConnection, method: str, path: str, headers: dict) -> None:
        connection.putrequest(method, self._prefix + path, skip_accept_encoding=True)
        for name, value in {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}.items():
            connection.putheader(name, value)
        connection.endheaders()


def _send_file(connection: http.client.HTTPConnection, source: BinaryIO, size: int,
               progress: Callable[[int], None]) -> None:
    """Send ``size`` bytes; stop early when the server has already answered (a refusal) or hung up."""
    left = size
    while left:
        if _answered(connection):
            return
        piece = source.read(min(PIECE, left))
        if not piece:
            raise OSError("the file got shorter while it was being sent")
        try:
            connection.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            return  # the server stopped reading: its answer says why
        left -= len(piece)
        progress(len(piece))


def _answered(connection: http.client.HTTPConnection) -> bool:
    sock = connection.sock
    if sock is None or not isinstance(sock, socket.socket):
        return False
    if hasattr(sock, "pending") and sock.pending():  # TLS bytes already decrypted
        return True
    return bool(select.select([sock], [], [], 0)[0])


def _json_answer(response: http.client.HTTPResponse, body: bytes) -> dict:
    if 200 <= response.status < 300:
        if not body:
            return {}
        try:
            return json.loads(body)
        except ValueError:
            raise NetworkError(f"the server answered {response.status} with something that is not JSON") from None
    try:
        error = json.loads(body)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", f"The server answered {response.status} {response.reason}."
    raise ApiError(response.status, code, message, response.getheader("Retry-After"))


def _credentials(token: str, passphrase: str | None) -> dict:
    return {"token": token, **({"passphrase": passphrase} if passphrase else {})}


def _filename(disposition: str) -> str:
    """The exact name from ``filename*=UTF-8''...`` (RFC 8187), else the ASCII ``filename``."""
    fallback = ""
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename*" and value.lower().startswith("utf-8''"):
            return unquote(value[7:], errors="replace")
        if key.lower() == "filename":
            fallback = value.strip('"')
    return fallback


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "the server did not answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (is the server running at that address?)"
    if isinstance(exc, socket.gaierror):
        return f"the server's name could not be resolved ({exc.strerror})"
    return str(exc) or type(exc).__name__
