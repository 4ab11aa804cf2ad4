"""A real gunicorn serving Anon Hosting on a free loopback port, for integration tests.

``GunicornServer(root)`` is a context manager: on enter it starts our gunicorn
(scripts/stacklib/processes.py's command and launcher, as ``make run`` does) on
127.0.0.1:PORT with cwd = backend/, an
environment made only of what the test chooses (storage and private folder
under ``root``, a random 48-character SECRET_KEY, ANON_HOSTING_ENV_FILE=/dev/null
so no developer ``.env`` is read, WEB_CONCURRENCY, MAX_UPLOAD_BYTES), sends
gunicorn's stdout and stderr to one log file, and returns once GET /api/health
answers 200. On exit it sends SIGTERM and waits for gunicorn to finish.

Every token the server hands out through ``session()`` (or ``record_answer``)
is kept in ``issued``, and every passphrase sent through ``session()`` in
``passphrases``, so the suite can check at the end that none of them, nor
any file key inside them, ever reached the log.

gunicorn is the one next to the running interpreter, so the suite uses
whatever venv runs pytest.
"""

import os
import secrets
import signal
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Self

import psutil
import requests
from stacklib import processes

from ..storage.stores import local_entries
from .issued import IssuedTokens

BACKEND_DIR = Path(__file__).resolve().parents[2]

GUNICORN = Path(sys.executable).parent / "gunicorn"
HOST = "127.0.0.1"

# Everything config.py reads: never inherited from the environment running the tests.
APP_ENV_VARS = ("WEBSITE_NAME", "ENCRYPTED_FILE_STORAGE", "PRIVATE_FOLDER", "SECRET_KEY", "MAX_UPLOAD_BYTES",
                "DEFAULT_EXPIRES_IN", "MAX_EXPIRES_IN", "CORS_ORIGINS", "FRONTEND_DIR", "ANON_HOSTING_ENV_FILE",
                "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TRANSFER_THREADS", "GUNICORN_SOCKET_TIMEOUT",
                "GUNICORN_CMD_ARGS",
                "RATE_LIMIT_UPLOADS", "RATE_LIMIT_TOKENS", "RATE_LIMIT_PASSPHRASES", "RATE_LIMIT_PASSPHRASE_REQUESTS",
                "RATE_LIMIT_UPLOAD_PASSWORD", "TRUSTED_PROXIES", "TRUSTED_PROXY_ADDRS",
                "STORAGE_BACKEND", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_PREFIX", "INSTANCE_ID", "LOG_FORMAT",
                "PROMETHEUS_MULTIPROC_DIR", "MAX_BUNDLE_FILES")
# Every test client is 127.0.0.1, so the per-IP limits are off unless a test turns them on (extra_env).
NO_RATE_LIMITS = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "RATE_LIMIT_PASSPHRASES": "0",
                  "RATE_LIMIT_UPLOAD_PASSWORD": "0", "RATE_LIMIT_PASSPHRASE_REQUESTS": "0"}


def random_secret_key(length: int = 48) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def free_port() -> int:
    return processes.free_port(HOST)


def gunicorn_command(port: int) -> list[str]:
    return processes.gunicorn_command(f"{HOST}:{port}", gunicorn=GUNICORN)


def gunicorn_env(storage_dir: Path, private_dir: Path, secret_key: str, *, workers: int = 2,
                 max_upload_bytes: int | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS}
    env.update({
        "ENCRYPTED_FILE_STORAGE": str(storage_dir),
        "PRIVATE_FOLDER": str(private_dir),
        "SECRET_KEY": secret_key,
        "ANON_HOSTING_ENV_FILE": "/dev/null",
        "WEB_CONCURRENCY": str(workers),
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(storage_dir.parent / "metrics"),  # removed with the test's folder
        **NO_RATE_LIMITS,
    })
    if max_upload_bytes is not None:
        env["MAX_UPLOAD_BYTES"] = str(max_upload_bytes)
    env.update(extra or {})
    return env


def run_until_exit(root: Path, secret_key: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run gunicorn that is expected to refuse to start; stdout and stderr are kept apart."""
    env = gunicorn_env(root / "files", root / "private", secret_key)
    return subprocess.run(gunicorn_command(free_port()), cwd=BACKEND_DIR, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


class ServerFailed(RuntimeError):
    pass


class GunicornServer(IssuedTokens):
    def __init__(self, root: Path, *, workers: int = 2, max_upload_bytes: int | None = None,
                 secret_key: str | None = None, extra_env: dict[str, str] | None = None, start_timeout: float = 30):
        self.root = Path(root)
        self.storage_dir = self.root / "files"
        self.private_dir = self.root / "private"
        self.log_path = self.root / "gunicorn.log"
        self.secret_key = secret_key or random_secret_key()
        self.workers = workers
        self.max_upload_bytes = max_upload_bytes
        self.extra_env = extra_env
        self.start_timeout = start_timeout
        self.issued: list[tuple[str, str]] = []  # (answer field, token) of every token handed out
        self.passphrases: set[str] = set()  # every passphrase sent through session()
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None

    # -- life cycle ------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        env = gunicorn_env(self.storage_dir, self.private_dir, self.secret_key, workers=self.workers,
                           max_upload_bytes=self.max_upload_bytes, extra=self.extra_env)
        for _attempt in range(3):  # another process may grab the free port before gunicorn binds it
            self.port = free_port()
            self.process = processes.launch(gunicorn_command(self.port), self.log_path, env=env, cwd=BACKEND_DIR)
            try:
                self._wait_ready()
                return
            except ServerFailed:
                if self.process.poll() is None or "Address already in use" not in self.log_text():
                    self.stop()
                    raise
        raise ServerFailed(f"gunicorn could not bind a free port; log:\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"gunicorn exited with {self.process.returncode}; log:\n{self.log_tail()}")
            try:
                if requests.get(self.url("/api/health"), timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow on a busy machine
                pass
            time.sleep(0.05)
        raise ServerFailed(f"gunicorn did not answer /api/health within {self.start_timeout}s; "
                           f"log:\n{self.log_tail()}")

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM, then wait (graceful_timeout is 30 s); SIGKILL only if it hangs."""
        if self.process is None:
            return self.returncode
        processes.stop(self.process, signal.SIGTERM, timeout)
        self.returncode = self.process.returncode
        self.process = None
        return self.returncode

    # -- inspection --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def worker_pids(self) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def wait_for_workers(self, count: int, timeout: float = 30) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
        raise ServerFailed(f"expected {count} workers, have {self.worker_pids()}; log:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def storage_entries(self) -> set[str]:
        """ENCRYPTED_FILE_STORAGE as S3 would hold it: ``<name>.state`` and ``<name>`` per file (its row or its
        blob file), any ``.tmp-*`` being written and other files, the index itself left out."""
        return local_entries(self.storage_dir) if self.storage_dir.exists() else set()
