"""The processes of a local stack: gunicorn's command line, starting and stopping, ports and health checks.

Contract: ``gunicorn_command(bind)`` is the one command line of our gunicorn (backend/gunicorn.conf.py,
bound to ``bind``, serving the app); ``launch`` starts a command in its own session with its output
appended to a log; ``stop`` ends one with a signal, then SIGKILL. ``wait_http`` returns once an
/api/health answers with the stack's own INSTANCE_ID, or raises ``ProcessFailed``, whose ``cause`` is
the one log line that says why. Every tool that runs gunicorn (scripts/stack.py, the integration tests,
the benchmarks) builds it here. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
GUNICORN_CONF = BACKEND / "gunicorn.conf.py"
APP = "anon_hosting:create_app()"


def default_gunicorn() -> Path:
    """$GUNICORN, else the project venv's gunicorn."""
    return Path(os.environ.get("GUNICORN") or REPO / ".venv" / "bin" / "gunicorn")


def gunicorn_command(bind: str, *, gunicorn: str | os.PathLike | None = None, app: str | None = APP) -> list[str]:
    """Our gunicorn with our settings, bound to ``bind``, serving ``app`` (None: the settings' own)."""
    binary = Path(gunicorn) if gunicorn else default_gunicorn()
    cmd = [str(binary), "-c", str(GUNICORN_CONF)]
    if _has_control_socket(binary):
        # gunicorn >= 24 opens ~/.gunicorn/gunicorn.ctl by default; two stacks would fight over that one path.
        cmd += ["--no-control-socket"]
    return cmd + ["-b", bind] + ([app] if app else [])


def launch(cmd: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path = BACKEND) -> subprocess.Popen:
    """Start ``cmd`` in its own session, stdin closed, stdout and stderr appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603 - our servers
                                stdin=subprocess.DEVNULL, start_new_session=True)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ProcessFailed(RuntimeError):
    """A server process died or never answered; ``cause`` is the one line that says why."""

    def __init__(self, report: str, cause: str):
        super().__init__(f"{report}\n{cause}")
        self.report, self.cause = report, cause


def health(url: str, timeout: float = 2) -> dict | None:
    """The JSON of a 200 answer from ``url`` (an /api/health), or None."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read(4096))
            return body if response.status == 200 and isinstance(body, dict) else None
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError):
        return None


def wait_http(url: str, deadline: float, proc: subprocess.Popen, log: Path, instance_id: str) -> None:
    """Return once ``url`` answers with our instance_id; a stranger answering the port does not count."""
    stranger = False
    while True:
        if proc.poll() is not None:
            raise failure(proc, log, "before it answered")
        answer = health(url)
        if answer is not None and answer.get("instance") == instance_id:
            return
        stranger = stranger or answer is not None
        if time.monotonic() > deadline:
            why = "another server answered there instead" if stranger else "nothing answered"
            raise ProcessFailed(f"{url} did not answer in time ({why}); last lines of {log}:\n{tail(log)}",
                                f"{url} did not answer in time: {why}.")
        time.sleep(0.1)


def failure(proc: subprocess.Popen, log: Path, when: str = "") -> ProcessFailed:
    name, code = Path(str(proc.args[0])).name, proc.returncode
    ended = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    text = tail(log)
    report = f"{name} {ended}{' ' + when if when else ''}; last lines of {log}:\n{text}"
    return ProcessFailed(report, _cause(text) or f"{name} {ended}.")


def _cause(log_text: str) -> str | None:
    """The line of a log that says why a server stopped: a refused setting, else the last error."""
    lines = [line.strip() for line in log_text.splitlines() if line.strip()]
    for marks in (("configuration error:",), ("[emerg]", "[crit]", "[alert]", "[ERROR]", "Error:", "error:")):
        found = [line for line in lines if any(mark in line for mark in marks)]
        if found:
            return found[-1]
    return None


def port_taken(host: str, port: int) -> str | None:
    """Why ``port`` cannot be bound on ``host`` as a server binds it (SO_REUSEADDR), or None when it is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
    return None


def free_port_after(host: str, port: int, avoid: set[int]) -> int:
    for candidate in range(port + 1, min(port + 200, 65536)):
        if candidate not in avoid and port_taken(host, candidate) is None:
            return candidate
    return free_port(host)


@functools.cache
def _has_control_socket(gunicorn: Path) -> bool:
    try:
        out = subprocess.run([str(gunicorn), "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--no-control-socket" in out


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen | None, sig: int, timeout: float = 15) -> None:
    """Send ``sig`` and wait up to ``timeout`` s; then SIGKILL the process's whole session."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # every process started here leads its own session
        proc.wait(5)
