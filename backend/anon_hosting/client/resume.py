"""Resumable uploads for ``put``: tus 1.0 at /api/uploads, spoken over http.client, resumable after a crash.

Contract: ``upload(client, path, ..., resume=False, progress)`` sends a file
through tus and returns the server's JSON (that of ``POST /api/files``). It makes
a random 256-bit secret, sent only as the ``Upload-Secret`` header, and keeps the
upload's URL and secret in a mode 0600 file under ``state_folder()``
($XDG_CACHE_HOME or ~/.cache, then anon-hosting/uploads, mode 0700) until the
upload finishes, then deletes it. A network error or a 5xx, 409 or 423 answer is
retried after ``BACKOFF`` pauses from the server's offset (HEAD). With
``resume``, a state file left by an interrupted ``put`` of the same file (same
server, path, size and modification time) is taken up from the server's offset;
an upload the server no longer knows starts afresh. The body streams in
``api.PIECE`` reads, as a plain upload does, so memory stays flat.

tuspy is not used: it reads each PATCH's whole body into memory (its default
chunk size is the whole file), reports no progress, and keeps upload URLs, not
secrets, in a file it creates with default permissions.
"""

import base64
import hashlib
import http.client
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from .api import ApiError, Client, NetworkError, _describe, _json_answer, _send_file

THRESHOLD = 8 * 1024 * 1024  # bytes: larger files go through tus
BACKOFF = (1, 2, 4, 8, 15, 30, 30, 60)  # seconds before each retry
RETRIED = frozenset({409, 423}) | frozenset(range(500, 600))
TUS = {"Tus-Resumable": "1.0.0"}


def state_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "anon-hosting" / "uploads"


def upload(client: Client, path: Path, *, expires_in: int | None = None, max_downloads: int | None = None,
           passphrase: str | None = None, password: str | None = None, resume: bool = False,
           progress: Callable[[int], None] = lambda n: None, sleep=time.sleep) -> dict:
    stat = path.stat()
    state_path = _state_path(client, path)
    state = _load(state_path, stat) if resume else None
    if state is not None and not _known(client, state):
        state = None  # expired or swept: start afresh
    if state is None:
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        meta = {"filename": path.name, "expires_in": expires_in, "max_downloads": max_downloads,
                "passphrase": passphrase}
        location = _create(client, secret, stat.st_size, meta, password)
        state = {"url": location, "secret": secret, "size": stat.st_size, "mtime": stat.st_mtime_ns}
        _save(state_path, state)
    shown = 0  # what the progress bar shows; moved to the server's offset on every try

    def show(n: int) -> None:
        nonlocal shown
        shown += n
        progress(n)

    for pause in (*BACKOFF, None):
        try:
            offset = _offset(client, state)
            show(offset - shown)
            with open(path, "rb") as source:
                source.seek(offset)
                answer = _patch(client, state, source, offset, stat.st_size, show)
            state_path.unlink(missing_ok=True)
            return answer
        except (NetworkError, ApiError) as exc:
            if pause is None or (isinstance(exc, ApiError) and exc.status not in RETRIED):
                raise
            sleep(pause)
    raise AssertionError("unreachable")


def _create(client: Client, secret: str, size: int, meta: dict, password: str | None) -> str:
    encoded = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in meta.items() if v)
    headers = {**TUS, "Upload-Secret": secret, "Upload-Length": str(size), "Upload-Metadata": encoded,
               "Content-Length": "0"}
    if password:
        headers["Authorization"] = f"Bearer {password}"
    response, _ = _request(client, "POST", "/api/uploads", headers)
    return response.getheader("Location")


def _known(client: Client, state: dict) -> bool:
    try:
        _offset(client, state)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _offset(client: Client, state: dict) -> int:
    response, _ = _request(client, "HEAD", state["url"], {**TUS, "Upload-Secret": state["secret"]})
    return int(response.getheader("Upload-Offset"))


def _patch(client: Client, state: dict, source, offset: int, size: int, progress) -> dict:
    headers = {**TUS, "Upload-Secret": state["secret"], "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream", "Content-Length": str(size - offset)}
    connection = client._connect()  # noqa: SLF001 - this module is the client's tus half
    try:
        client._begin(connection, "PATCH", state["url"], headers)  # noqa: SLF001
        _send_file(connection, source, size - offset, progress)
        response = connection.getresponse()
        answer = _json_answer(response, response.read())
    except (OSError, http.client.HTTPException) as exc:
        raise NetworkError(_describe(exc)) from None
    finally:
        connection.close()
    if response.status != 200:  # 204: the server kept less than was sent; the next try goes on from its offset
        raise NetworkError(f"the upload stopped at {response.getheader('Upload-Offset')} of {size} bytes")
    return answer


def _request(client: Client, method: str, path: str, headers: dict):
    connection = client._connect()  # noqa: SLF001
    try:
        client._begin(connection, method, path, headers)  # noqa: SLF001
        response = connection.getresponse()
        body = response.read()
        if method == "HEAD" and response.status != 200:  # a HEAD answer has no body to explain itself
            raise ApiError(response.status, "not_found" if response.status == 404 else "http_error",
                           f"The server answered {response.status} about this upload.")
        return response, (_json_answer(response, body) if method != "HEAD" else None)
    except (OSError, http.client.HTTPException) as exc:
        raise NetworkError(_describe(exc)) from None
    finally:
        connection.close()


def _state_path(client: Client, path: Path) -> Path:
    key = hashlib.sha256(f"{client.base_url}\n{path.resolve()}".encode()).hexdigest()[:32]
    return state_folder() / f"{key}.json"


def _load(state_path: Path, stat: os.stat_result) -> dict | None:
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return None
    if state.get("size") != stat.st_size or state.get("mtime") != stat.st_mtime_ns:
        return None  # the file changed since: its bytes would not match what the server holds
    return state


def _save(state_path: Path, state: dict) -> None:
    state_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = state_path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, state_path)
