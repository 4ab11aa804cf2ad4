"""The soak's clients (bench/soak.py): each loops over uploads, infos, retrieves, deletes and hostile requests.

Contract: ``Client(number, base_url, ...).run()`` makes requests until its deadline, each with one
expected answer, and records every answer, problem and byte in the shared ``Results``;
``verify_all()`` downloads every file it still holds once more. Payloads are regenerated from
their seed (``payload``), never kept: the sha256 of what was sent is compared with what comes back.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from urllib.parse import quote

import requests
from jwcrypto.common import base64url_decode, base64url_encode

from soak_report import Results, Stored, lease_still_open
from stacklib.answers import error_code
from stacklib.multipart import MultipartBody

KIB, MIB = 1 << 10, 1 << 20
PIECE = MIB
FILES_PER_CLIENT = 12
REQUEST_TIMEOUT = 300
MAX_429_RETRIES = 5
GONE = (410, "download_limit_reached")


def pick_size(rng: random.Random, max_size: int) -> int:
    """Mostly small: 70% up to 64 KiB, 20% up to 1 MiB, 8% up to 8 MiB, 2% up to max (log-uniform)."""
    roll = rng.random()
    tiers = [(0.70, KIB, 64 * KIB), (0.90, 64 * KIB, MIB), (0.98, MIB, 8 * MIB), (1.0, 8 * MIB, max_size)]
    for limit, low, high in tiers:
        if roll < limit:
            high, low = min(high, max_size), min(low, max_size)
            return int(round(low * (high / low) ** rng.random())) if high > low else high
    return max_size


def payload(seed: int, size: int):
    """The bytes of one upload, regenerated from its seed in 1 MiB pieces."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    left = size
    while left:
        piece = rng.randbytes(min(PIECE, left))
        left -= len(piece)
        yield piece


def payload_sha256(seed: int, size: int) -> str:
    digest = hashlib.sha256()
    for piece in payload(seed, size):
        digest.update(piece)
    return digest.hexdigest()


class RawStream:
    def __init__(self, seed: int, size: int):
        self.seed, self.size = seed, size

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        yield from payload(self.seed, self.size)


def tamper(token: str, rng: random.Random) -> str:
    """Flip one bit of the decoded bytes of one part: always a real change (no base64 slack bits)."""
    parts = token.split(".")
    index = rng.choice([i for i, p in enumerate(parts) if p])
    raw = bytearray(base64url_decode(parts[index]))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    parts[index] = base64url_encode(bytes(raw))
    return ".".join(parts)


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connections from one loopback address, so nginx's per-address connection caps see one client each."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_address(number: int) -> str:
    """127.0.1.1, 127.0.1.2, ...: one loopback address per client, apart from the abusers' 127.0.0.1."""
    return f"127.0.{1 + number // 254}.{1 + number % 254}"


class Client:
    def __init__(self, number: int, base_url: str, max_size: int, seed: int, hostile_share: float,
                 results: Results, deadline: float, tolerate_429: bool = False, source: str | None = None):
        self.tolerate_429 = tolerate_429
        self.number, self.base, self.max_size = number, base_url.rstrip("/"), max_size
        self.rng = random.Random(seed * 1_000_003 + number)  # noqa: S311 - a reproducible load mix
        self.hostile_share, self.results, self.deadline = hostile_share, results, deadline
        self.session = requests.Session()
        if source is not None:
            self.session.mount("http://", SourceAddressAdapter(source))
        self.files: list[Stored] = []

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                self.step()
        finally:
            self.session.close()

    def step(self) -> None:
        roll = self.rng.random()
        if roll < self.hostile_share:
            self.hostile()
        elif not self.files or roll < self.hostile_share + 0.25:
            self.upload()
        elif roll < 0.50:
            self.info(self.rng.choice(self.files))
        elif roll < 0.85:
            self.retrieve(self.rng.choice(self.files))
        else:
            self.delete(self.files[0])
        if len(self.files) > FILES_PER_CLIENT:
            self.delete(self.files[0])

    # -- calls --

    def _call(self, endpoint: str, method: str, path: str, expect: tuple[int, str | None],
              **kwargs) -> requests.Response | None:
        for _attempt in range(MAX_429_RETRIES + 1):
            started = time.monotonic()
            try:
                response = self.session.request(method, self.base + path, timeout=REQUEST_TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                self.results.record(endpoint, time.monotonic() - started, "transport_error")
                self.results.problem(f"{endpoint}: {type(exc).__name__}: {str(exc)[:160]}")
                return None
            self.results.record(endpoint, time.monotonic() - started, response.status_code)
            if not self.backoff(response):
                break
        status, code = expect
        if (status, code) == GONE and lease_still_open(response):
            self.results.count_lease_open()
            return None
        if response.status_code != status or (code is not None and error_code(response) != code):
            self.results.problem(f"{endpoint}: expected {status} {code or ''}, got {response.status_code} "
                                 f"{error_code(response) or response.text[:120]}")
            return None
        return response

    def upload(self) -> None:
        size, seed = pick_size(self.rng, self.max_size), self.rng.getrandbits(63)
        limit = 2 if self.rng.random() < 0.1 else None
        fields = {"max_downloads": str(limit)} if limit else {}
        name = f"soak-{self.number}-{seed % 10_000}.bin"
        if self.rng.random() < 0.5:
            body, headers = RawStream(seed, size), {"Content-Type": "application/octet-stream",
                                                    "X-File-Name": quote(name)}
            path = "/api/files" + (f"?max_downloads={limit}" if limit else "")
        else:
            body = MultipartBody(lambda: payload(seed, size), size, name, fields)
            headers, path = {"Content-Type": body.content_type}, "/api/files"
        response = self._call("upload", "POST", path, (201, None), data=body, headers=headers)
        if response is None:
            return
        answer = response.json()
        if answer.get("size") != size:
            self.results.problem(f"upload: answered size {answer.get('size')} for {size} bytes")
        self.files.append(Stored(answer["token"], answer["owner_token"], seed, size, payload_sha256(seed, size),
                                 limit))
        with self.results.lock:
            self.results.uploaded_files += 1
            self.results.uploaded_bytes += size

    def info(self, stored: Stored) -> None:
        response = self._call("info", "POST", "/api/files/info", self._expect_readable(stored, 200),
                              json={"token": stored.token})
        if response is not None and response.status_code == 200:
            body = response.json()
            if body.get("size") != stored.size:
                self.lost_or_corrupt(stored, f"info size {body.get('size')} != {stored.size}", lost=False)

    def retrieve(self, stored: Stored, endpoint: str = "retrieve") -> None:
        expect = self._expect_readable(stored, 200)
        for _attempt in range(MAX_429_RETRIES + 1):
            started = time.monotonic()
            try:
                with self.session.post(self.base + "/api/files/retrieve", json={"token": stored.token}, stream=True,
                                       timeout=REQUEST_TIMEOUT) as response:
                    digest, received = hashlib.sha256(), 0
                    if response.status_code == 200:
                        for piece in response.iter_content(PIECE):
                            digest.update(piece)
                            received += len(piece)
                    else:
                        response.content  # noqa: B018 - read the JSON error
            except requests.RequestException as exc:
                self.results.record(endpoint, time.monotonic() - started, "transport_error")
                self.results.problem(f"{endpoint}: {type(exc).__name__}: {str(exc)[:160]}")
                return
            self.results.record(endpoint, time.monotonic() - started, response.status_code)
            if not self.backoff(response):
                break
        if response.status_code == 404 and expect[0] == 200:
            self.lost_or_corrupt(stored, "retrieve answered 404 for a stored file", lost=True)
            return
        if expect == GONE and lease_still_open(response):
            self.results.count_lease_open()
            return
        if (response.status_code, error_code(response) if response.status_code != 200 else None) != expect:
            self.results.problem(f"{endpoint}: expected {expect}, got {response.status_code} {error_code(response)}")
            return
        if response.status_code == 200:
            with self.results.lock:
                self.results.downloaded_bytes += received
                self.results.verified_files += endpoint == "verify"
            if received != stored.size or digest.hexdigest() != stored.sha256:
                self.lost_or_corrupt(stored, f"{received} bytes, sha256 mismatch", lost=False)
            stored.downloads += 1

    def delete(self, stored: Stored) -> None:
        self.files.remove(stored)
        if self._call("delete", "POST", "/api/files/delete", (204, None), json={"token": stored.owner}) is None:
            return
        self._call("info", "POST", "/api/files/info", (404, "not_found"), json={"token": stored.token})

    def hostile(self) -> None:
        kind = self.rng.choice(["garbage", "tampered", "query", "multipart"])
        if kind == "garbage":
            token = self.rng.choice(["", "x" * self.rng.randrange(1, 5000), "....", "eyJ" + "A" * 300,
                                     secrets.token_urlsafe(200)])
            self._call("hostile", "POST", "/api/files/" + self.rng.choice(["info", "retrieve", "delete"]),
                       (400, "invalid_token") if token else (400, "invalid_token"), json={"token": token})
        elif kind == "tampered" and self.files:
            stored = self.rng.choice(self.files)
            self._call("hostile", "POST", "/api/files/" + self.rng.choice(["info", "retrieve", "delete"]),
                       (400, "invalid_token"), json={"token": tamper(self.rng.choice([stored.token, stored.owner]),
                                                                      self.rng)})
        elif kind == "query" and self.files:
            token = self.files[0].token
            self._call("hostile", "POST", f"/api/files/info?token={token}", (400, "bad_request"),
                       json={"token": token})
        else:
            body = b"--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nno file here\r\n--b--\r\n"
            self._call("hostile", "POST", "/api/files", (400, "bad_request"), data=body,
                       headers={"Content-Type": "multipart/form-data; boundary=b"})

    def backoff(self, response: requests.Response) -> bool:
        """With --tolerate-429, wait out a 429 (Retry-After, at most 5 s) and say so; else False."""
        if response.status_code != 429 or not self.tolerate_429:
            return False
        try:
            wait = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            wait = 1.0
        time.sleep(min(max(wait, 0.1), 5.0))
        return True

    # -- expectations --

    def _expect_readable(self, stored: Stored, status: int) -> tuple[int, str | None]:
        if stored.max_downloads is not None and stored.downloads >= stored.max_downloads:
            return GONE
        return status, None

    def lost_or_corrupt(self, stored: Stored, why: str, *, lost: bool) -> None:
        with self.results.lock:
            if lost:
                self.results.lost += 1
            else:
                self.results.corrupted += 1
        self.results.problem(f"file seed={stored.seed} size={stored.size}: {why}")
        if stored in self.files:
            self.files.remove(stored)

    def verify_all(self) -> None:
        for stored in list(self.files):
            if self._expect_readable(stored, 200)[0] == 200:
                self.retrieve(stored, endpoint="verify")
