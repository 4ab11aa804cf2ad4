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
  root, podman, installed and configured by scripts/engine.py.
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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from engine import (
    CONTAINERS_CONF,
    PODMAN_SOCKET,
    REPO,
    HealthChecks,
    client_binary,
    docker_answers,
    ensure_compose_client,
    ensure_podman_service,
    log,
    prepare_podman,
    run,
    stop_podman_service,
)

COMPOSE_FILE = REPO / "docker-compose.yml"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HEALTH_TIMEOUT = 240


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
        if self.engine == "podman":
            prepare_podman(self.env)

    def compose_cmd(self) -> list[str]:
        client = ["docker", "compose"] if self.engine == "docker" else [str(client_binary())]
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

    def health_checks(self) -> HealthChecks:
        return HealthChecks(self)


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
            ensure_podman_service(stack.env)
            ensure_compose_client()
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
