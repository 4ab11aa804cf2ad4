"""A small tus client for the integration tests: requests for whole requests, a raw socket for cut ones, and a
scan of everything at rest for what must never be there (plaintext, the secret, the file key, the name).

``Upload(base_url, data, ...)`` creates an upload with a fresh secret (``member=True``: a bundle member's);
``patch``, ``head``, ``result`` and ``delete`` speak tus 1.0.0; ``cut(offset, at)`` sends a PATCH that
declares the whole rest of the file and closes the connection after the byte ``at``; ``resume()`` goes on
from the server's offset until done, trying again while another request holds the upload (423).
``at_rest(...)`` returns every byte a store holds, and ``forbidden(upload)`` the byte strings none of them
may contain.
"""

import base64
import os
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from anon_hosting.crypto.upload_secret import UploadKeys
from anon_hosting.storage.index import INDEX

from ..index_rows import INDEX_FILES, rows

TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"
RESUME_TRIES = 120
RETRY_PAUSE = 0.5  # seconds between two tries while the upload is busy


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def metadata(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


class Upload:
    def __init__(self, base_url: str, data: bytes, name: str = "resumed.bin", passphrase: str | None = None,
                 session: requests.Session | None = None, member: bool = False):
        self.base_url, self.data, self.name, self.passphrase = base_url, data, name, passphrase
        self.secret = secrets.token_bytes(32)
        self.http = session or requests.Session()
        meta = {"filename": name, **({"passphrase": passphrase} if passphrase else {})}
        answer = self.http.post(f"{base_url}/api/uploads", timeout=60, headers={
            **TUS, "Upload-Secret": b64url(self.secret), "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata(**meta) + (",bundle" if member else "")})
        assert answer.status_code == 201, answer.text
        self.location = answer.headers["Location"]
        self.id = self.location.rsplit("/", 1)[1]
        self.answer: dict | None = None

    def headers(self, **extra) -> dict:
        return {**TUS, "Upload-Secret": b64url(self.secret), **extra}

    def url(self, base_url: str | None = None) -> str:
        return (base_url or self.base_url) + self.location

    def head(self, base_url: str | None = None) -> requests.Response:
        return self.http.head(self.url(base_url), headers=self.headers(), timeout=60)

    def offset(self, base_url: str | None = None) -> int:
        answer = self.head(base_url)
        assert answer.status_code == 200, answer.status_code
        return int(answer.headers["Upload-Offset"])

    def patch(self, offset: int, end: int | None = None, base_url: str | None = None) -> requests.Response:
        body = self.data[offset:end]
        answer = self.http.patch(self.url(base_url), data=body, timeout=300, headers=self.headers(
            **{"Upload-Offset": str(offset), "Content-Type": OFFSET_TYPE}))
        if answer.status_code == 200:
            self.answer = answer.json()
        return answer

    def result(self, base_url: str | None = None) -> requests.Response:
        return self.http.get(self.url(base_url), headers=self.headers(), timeout=60)

    def delete(self, base_url: str | None = None) -> requests.Response:
        return self.http.delete(self.url(base_url), headers=self.headers(), timeout=60)

    def cut(self, offset: int, at: int, base_url: str | None = None) -> None:
        """A PATCH from ``offset`` declaring the rest of the file, whose connection closes after byte ``at``."""
        parts = urlsplit(base_url or self.base_url)
        head = (f"PATCH {self.location} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Secret: {b64url(self.secret)}\r\nUpload-Offset: {offset}\r\n"
                f"Content-Type: {OFFSET_TYPE}\r\nContent-Length: {len(self.data) - offset}\r\n\r\n")
        with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
            sock.sendall(head.encode() + self.data[offset:at])

    def resume(self, base_url: str | None = None) -> dict:
        """PATCH from the server's offset until the upload is done; the answer's JSON."""
        for _ in range(RESUME_TRIES):
            answer = self.patch(self.offset(base_url), base_url=base_url)
            if answer.status_code == 200:
                return answer.json()
            assert answer.status_code in (409, 423), answer.text  # a cut request still winding down
            time.sleep(RETRY_PAUSE)
        raise AssertionError("the upload stayed busy")

    def download(self, base_url: str | None = None) -> bytes:
        body = {"token": self.answer["token"], **({"passphrase": self.passphrase} if self.passphrase else {})}
        answer = self.http.post(f"{base_url or self.base_url}/api/files/retrieve", json=body, timeout=300)
        assert answer.status_code == 200, answer.text
        return answer.content


def at_rest_local(folder: Path, index_as_rows: bool = False) -> list[tuple[str, bytes]]:
    """Every file's bytes; with ``index_as_rows``, the index's files by its rows (tests/index_rows.py)."""
    found = []
    for path in Path(folder).rglob("*"):
        if not path.is_file():
            continue
        if index_as_rows and path.name in INDEX_FILES:
            found.append((str(path), rows(path) if path.name == INDEX else b""))
        else:
            found.append((str(path), path.read_bytes()))
    return found


def at_rest_s3(client, bucket: str) -> list[tuple[str, bytes]]:
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            found.append((obj["Key"], client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        found.append((f"multipart upload of {upload['Key']}", upload["Key"].encode()))  # parts are not readable
    return found


def file_key(upload: Upload, record: dict) -> bytes:
    return UploadKeys(upload.secret, upload.id).open(b"file key", base64.b64decode(record["key"]))


def forbidden(upload: Upload, key: bytes | None) -> dict[str, bytes]:
    """What no stored byte may hold: plaintext samples, the secret, the file key, the name and passphrase."""
    needles = {"the secret": upload.secret, "the secret (base64url)": b64url(upload.secret).encode(),
               "the file name": upload.name.encode()}
    if upload.passphrase:
        needles["the passphrase"] = upload.passphrase.encode()
    if key is not None:
        needles.update({"the file key": key, "the file key (hex)": key.hex().encode(),
                        "the file key (base64)": base64.b64encode(key).rstrip(b"="),
                        "the file key (base64url)": b64url(key).encode()})
    step = max(1, len(upload.data) // 16)
    for start in range(0, max(1, len(upload.data) - 32), step):
        needles[f"plaintext at {start}"] = upload.data[start:start + 32]
    return needles


def scan(stored: list[tuple[str, bytes]], needles: dict[str, bytes]) -> list[str]:
    return [f"{what} in {where}" for where, blob in stored for what, needle in needles.items()
            if len(needle) >= 8 and needle in blob]


def random_data(size: int) -> bytes:
    return os.urandom(size)
