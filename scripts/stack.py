"""Run the real Anon Hosting stack locally: gunicorn + nginx (when installed).

Contract:
- ``python scripts/stack.py run`` serves the site on HOST:PORT (default
  127.0.0.1:8080) with gunicorn on 127.0.0.1:API_PORT (default 8000), the
  backend reading its settings (storage folders included) from .env as
  usual, until Ctrl-C. Without nginx, gunicorn alone serves on HOST:PORT
  with FRONTEND_DIR set, so the backend serves the page itself. Before
  starting anything it checks that those ports are free, and exits with one
  line naming a taken port and what to set instead. When a process dies, at
  start or later, it prints that process's last log lines and the cause, and
  keeps the log folder.
- A stack counts as started only once its own processes answer: gunicorn
  gets a random INSTANCE_ID, and /api/health must echo it, directly and
  through nginx.
- ``Stack`` is the same thing as a class, for e2e fixtures and benchmarks:
  free loopback ports by default, optional storage/private folders and extra
  environment, log file paths, and ``start()``/``stop()`` (or ``with``).
- nginx runs from a private prefix (temp folder) with a small main
  nginx.conf wrapping nginx/templates/default.conf.template, rendered with
  string.Template.safe_substitute so nginx's own $variables are untouched.
- nginx's rate limits per client address are NGINX_LIMITS (the same defaults
  as nginx/Dockerfile); ``Stack(nginx_limits={...})`` overrides some or all,
  and ``run``/``render`` take them from the environment (RATE_UPLOADS=...).
  A stack whose app limits are switched off (RATE_LIMIT_UPLOADS=0 and
  RATE_LIMIT_TOKENS=0, as load tests do) gets NO_NGINX_LIMITS unless told
  otherwise: its clients all come from one loopback address.
- Behind nginx the backend runs with TRUSTED_PROXIES=1 (nginx replaces any
  client X-Forwarded-For with the peer address); gunicorn alone gets 0, so a
  client can never choose the address the app's limits see.

Standard library only.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FRONTEND = REPO / "frontend"
NGINX_DIR = REPO / "nginx"
TEMPLATE = NGINX_DIR / "templates" / "default.conf.template"
INCLUDES = ("security-headers.conf", "proxy-api.conf", "error-json.conf")
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
MIB = 1024 * 1024
# Copied when serving frontend/ in place is impossible (nginx workers run as
# `nobody` and cannot enter a 0700 folder): everything the page needs.
FRONTEND_COPY_IGNORE = shutil.ignore_patterns("node_modules", "package*.json", ".*")
# nginx's limits per client address (template placeholders; nginx/Dockerfile has the same).
NGINX_LIMITS = {
    "RATE_UPLOADS": "10r/m",
    "BURST_UPLOADS": "10",
    "RATE_TOKENS": "60r/m",
    "BURST_TOKENS": "30",
    "CONN_PER_IP": "20",
    "TRANSFERS_PER_IP": "4",
}
# For load tests and e2e journeys, where every client is 127.0.0.1: limits
# no single machine reaches (65535 is nginx's largest limit_conn).
NO_NGINX_LIMITS = {
    "RATE_UPLOADS": "100000r/s",
    "BURST_UPLOADS": "100000",
    "RATE_TOKENS": "100000r/s",
    "BURST_TOKENS": "100000",
    "CONN_PER_IP": "65535",
    "TRANSFERS_PER_IP": "65535",
}

MAIN_CONF = """\
# Written by scripts/stack.py for a local run; not used in docker.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
{user}
events {{
    worker_connections 512;
}}

http {{
    {mime}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;

    include default.conf;
}}
"""

# Used when /etc/nginx/mime.types is missing: just what the site serves.
MIME_FALLBACK = """types {
        text/html html;
        text/css css;
        application/javascript js mjs;
        image/svg+xml svg;
        image/png png;
        image/x-icon ico;
        application/json json;
        text/plain txt;
    }"""


def nginx_binary() -> str | None:
    """nginx on PATH, or Debian's /usr/sbin/nginx (a normal user's PATH has no /usr/sbin)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    return str(found) if found else None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def client_max_body_size(max_upload_bytes: int) -> str:
    """MAX_UPLOAD_BYTES rounded up to MiB, plus 1 MiB for multipart overhead."""
    return f"{-(-max_upload_bytes // MIB) + 1}m"


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a .env file (enough to find MAX_UPLOAD_BYTES)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def render_site(listen: str, frontend_root: Path, backend_addr: str, body_size: str,
                limits: dict[str, str] | None = None) -> str:
    """The site (server block and its zones) from nginx/templates/default.conf.template."""
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        {**NGINX_LIMITS, **(limits or {})},
        LISTEN_PORT=listen,
        FRONTEND_ROOT=str(frontend_root),
        BACKEND_ADDR=backend_addr,
        CLIENT_MAX_BODY_SIZE=body_size,
    )


def limits_from_environ() -> dict[str, str]:
    """The nginx limits set in the environment (for `run` and `render`)."""
    return {name: os.environ[name] for name in NGINX_LIMITS if os.environ.get(name)}


def _readable_by_others(path: Path) -> bool:
    """True when `nobody` can reach `path` (every parent o+x) and read it."""
    for part in [path, *path.parents]:
        if not part.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


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


def _wait_http(url: str, deadline: float, proc: subprocess.Popen, log: Path, instance_id: str) -> None:
    """Return once ``url`` answers with our instance_id; a stranger answering the port does not count."""
    stranger = False
    while True:
        if proc.poll() is not None:
            raise _failure(proc, log, "before it answered")
        answer = health(url)
        if answer is not None and answer.get("instance") == instance_id:
            return
        stranger = stranger or answer is not None
        if time.monotonic() > deadline:
            why = "another server answered there instead" if stranger else "nothing answered"
            raise ProcessFailed(f"{url} did not answer in time ({why}); last lines of {log}:\n{_tail(log)}",
                                f"{url} did not answer in time: {why}.")
        time.sleep(0.1)


def _failure(proc: subprocess.Popen, log: Path, when: str = "") -> ProcessFailed:
    name, code = Path(str(proc.args[0])).name, proc.returncode
    ended = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    text = _tail(log)
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


def _free_port_after(host: str, port: int, avoid: set[int]) -> int:
    for candidate in range(port + 1, min(port + 200, 65536)):
        if candidate not in avoid and port_taken(host, candidate) is None:
            return candidate
    return free_port(host)


@functools.cache
def _gunicorn_has_control_socket(gunicorn: Path) -> bool:
    try:
        out = subprocess.run([str(gunicorn), "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "--no-control-socket" in out


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen | None, sig: int, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Stack:
    """gunicorn (+ nginx in front when available) on loopback ports.

    web_port/api_port: None picks free ports. storage_dir/private_dir: when
    given, passed as ENCRYPTED_FILE_STORAGE/PRIVATE_FOLDER; otherwise the
    backend's own configuration (.env) decides. env: extra variables for
    gunicorn (e.g. MAX_UPLOAD_BYTES, SECRET_KEY, ANON_HOSTING_ENV_FILE).
    nginx_limits: overrides of NGINX_LIMITS (None: the defaults, or
    NO_NGINX_LIMITS when env switches the app's own limits off).
    workdir: where logs and the nginx prefix go (a temp folder, removed by
    stop(), when not given).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        web_port: int | None = None,
        api_port: int | None = None,
        storage_dir: str | os.PathLike | None = None,
        private_dir: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
        nginx_limits: dict[str, str] | None = None,
        use_nginx: bool | None = None,
        workdir: str | os.PathLike | None = None,
        gunicorn: str | os.PathLike | None = None,
    ) -> None:
        self.host = host
        self.use_nginx = nginx_binary() is not None if use_nginx is None else use_nginx
        self.web_port = web_port or free_port()
        self.api_port = self.web_port if not self.use_nginx else api_port
        while not self.api_port or self.api_port == self.web_port and self.use_nginx:
            self.api_port = free_port()
        self.instance_id = secrets.token_hex(8)
        self.storage_dir = Path(storage_dir) if storage_dir else None
        self.private_dir = Path(private_dir) if private_dir else None
        self.extra_env = dict(env or {})
        app_limits_off = all(self.extra_env.get(k) == "0" for k in ("RATE_LIMIT_UPLOADS", "RATE_LIMIT_TOKENS"))
        base = NO_NGINX_LIMITS if nginx_limits is None and app_limits_off else NGINX_LIMITS
        self.nginx_limits = {**base, **(nginx_limits or {})}
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="anon-hosting-stack-"))
        self.gunicorn_bin = Path(gunicorn or os.environ.get("GUNICORN") or REPO / ".venv" / "bin" / "gunicorn")
        self.gunicorn_log = self.workdir / "gunicorn.log"
        self.nginx_prefix = self.workdir / "nginx"
        self.nginx_log = self.workdir / "nginx.log"  # access log (stdout) and start-up errors
        self.nginx_error_log = self.nginx_prefix / "logs" / "error.log"
        self.gunicorn: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self._log_files: list = []
        self._html_copy: Path | None = None

    # -- addresses -----------------------------------------------------------

    @property
    def _local_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host  # noqa: S104 - a comparison, not a bind

    @property
    def url(self) -> str:
        """Base URL of the site (nginx, or gunicorn alone)."""
        return f"http://{self._local_host}:{self.web_port}"

    @property
    def api_url(self) -> str:
        """Base URL of gunicorn itself, bypassing nginx."""
        return f"http://127.0.0.1:{self.api_port}" if self.use_nginx else self.url

    # -- settings ------------------------------------------------------------

    def backend_env(self) -> dict[str, str]:
        env = os.environ.copy()
        env.update(self.extra_env)
        backend = str(REPO / "backend")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (backend, env.get("PYTHONPATH", "")) if p)
        if self.storage_dir:
            env["ENCRYPTED_FILE_STORAGE"] = str(self.storage_dir)
        if self.private_dir:
            env["PRIVATE_FOLDER"] = str(self.private_dir)
        if not self.use_nginx:
            env["FRONTEND_DIR"] = str(FRONTEND)
        env["INSTANCE_ID"] = self.instance_id
        # One proxy (nginx, which overwrites X-Forwarded-For) or none at all.
        env["TRUSTED_PROXIES"] = self.extra_env.get("TRUSTED_PROXIES", "1" if self.use_nginx else "0")
        return env

    def max_upload_bytes(self) -> int:
        env = self.backend_env()
        if "MAX_UPLOAD_BYTES" not in env:
            env_file = Path(env.get("ANON_HOSTING_ENV_FILE") or REPO / ".env")
            env.update({k: v for k, v in read_env_file(env_file).items() if k == "MAX_UPLOAD_BYTES"})
        try:
            return int(env.get("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))
        except ValueError:
            return DEFAULT_MAX_UPLOAD_BYTES

    # -- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 30) -> Stack:
        if not self.gunicorn_bin.exists():
            raise ProcessFailed("", f"{self.gunicorn_bin} not found: run `make setup` first (or set GUNICORN).")
        self.workdir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        try:
            self._start_gunicorn()
            _wait_http(f"{self.api_url}/api/health", deadline, self.gunicorn, self.gunicorn_log, self.instance_id)
            if self.use_nginx:
                self._start_nginx()
                _wait_http(f"{self.url}/api/health", deadline, self.nginx, self.nginx_error_log, self.instance_id)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _stop(self.nginx, signal.SIGQUIT)
        _stop(self.gunicorn, signal.SIGTERM, timeout=35)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        if self._html_copy:
            shutil.rmtree(self._html_copy.parent, ignore_errors=True)
            self._html_copy = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.dead() is None

    def dead(self) -> ProcessFailed | None:
        """What stopped the first of the stack's processes that is no longer running, or None."""
        procs = [(self.gunicorn, self.gunicorn_log)] + ([(self.nginx, self.nginx_error_log)] if self.use_nginx else [])
        for proc, log in procs:
            if proc is None:
                return ProcessFailed("", "The stack is not started.")
            if proc.poll() is not None:
                return _failure(proc, log)
        return None

    def _start_gunicorn(self) -> None:
        bind = f"127.0.0.1:{self.api_port}" if self.use_nginx else f"{self.host}:{self.web_port}"
        cmd = [*self.gunicorn_command(bind), "anon_hosting:create_app()"]
        log = open(self.gunicorn_log, "ab")
        self._log_files.append(log)
        self.gunicorn = subprocess.Popen(
            cmd, cwd=REPO, env=self.backend_env(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def gunicorn_command(self, bind: str) -> list[str]:
        """gunicorn with our settings, bound to ``bind``; the caller appends the app."""
        cmd = [str(self.gunicorn_bin)]
        config = REPO / "backend" / "gunicorn.conf.py"
        if config.is_file():
            cmd += ["-c", str(config)]
        if _gunicorn_has_control_socket(self.gunicorn_bin):
            # gunicorn >= 24 opens ~/.gunicorn/gunicorn.ctl by default; two stacks
            # (a dev server and the e2e suite) would fight over that one path.
            cmd += ["--no-control-socket"]
        return cmd + ["-b", bind]

    def _start_nginx(self) -> None:
        conf = self.write_nginx_conf()
        cmd = [nginx_binary() or "nginx", "-p", f"{self.nginx_prefix}/", "-e", str(self.nginx_error_log),
               "-c", str(conf), "-g", "daemon off;"]
        log = open(self.nginx_log, "ab")
        self._log_files.append(log)
        self.nginx = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def write_nginx_conf(self) -> Path:
        """Lay out the nginx prefix and return the main nginx.conf path."""
        prefix = self.nginx_prefix
        conf_dir = prefix / "conf"
        for sub in ("conf/anon-hosting", "logs", "temp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        # nginx started as root runs its workers as `nobody`: they must be
        # able to walk into the prefix. Readable, never writable by others.
        for folder in (self.workdir, prefix, conf_dir, conf_dir / "anon-hosting"):
            folder.chmod(0o755)
        for name in INCLUDES:
            shutil.copyfile(NGINX_DIR / name, conf_dir / "anon-hosting" / name)
        site = render_site(
            listen=f"{self.host}:{self.web_port}",
            frontend_root=self._frontend_root(),
            backend_addr=f"127.0.0.1:{self.api_port}",
            body_size=client_max_body_size(self.max_upload_bytes()),
            limits=self.nginx_limits,
        )
        (conf_dir / "default.conf").write_text(site, encoding="utf-8")
        mime = Path("/etc/nginx/mime.types")
        main = MAIN_CONF.format(
            prefix=prefix,
            user=self._user_directive(),
            mime=f"include {mime};" if mime.is_file() else MIME_FALLBACK,
        )
        (conf_dir / "nginx.conf").write_text(main, encoding="utf-8")
        return conf_dir / "nginx.conf"

    def _frontend_root(self) -> Path:
        """frontend/ itself, or a world-readable copy when workers can't read it."""
        if os.geteuid() != 0 or _readable_by_others(FRONTEND):
            return FRONTEND
        # Not inside workdir: that may sit under a 0700 folder (pytest's tmp_path).
        self._html_copy = copy = Path(tempfile.mkdtemp(prefix="anon-hosting-html-")) / "html"
        shutil.copytree(FRONTEND, copy, ignore=FRONTEND_COPY_IGNORE)
        copy.parent.chmod(0o755)
        for root, _dirs, files in os.walk(copy):
            os.chmod(root, 0o755)  # noqa: S103 - nginx's workers (nobody) must read the public static files
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        return copy

    @staticmethod
    def _user_directive() -> str:
        if os.geteuid() != 0:
            return ""
        import grp
        import pwd

        try:
            nobody = pwd.getpwnam("nobody")
            return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
        except KeyError:  # no `nobody` here: workers stay root (local runs only)
            return "user root;"


def _interrupt(signum, frame):
    """The first SIGINT or SIGTERM starts the clean stop; any that follow (a process group's signal
    reaches make and this process together) are ignored, so they cannot cut that stop short."""
    for other in (signal.SIGINT, signal.SIGTERM):
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt


def _taken_ports_line(stack: Stack) -> str | None:
    """One line naming every port of ``stack`` already taken, and what to set instead; None when all are free."""
    wanted = [("PORT", stack.host, stack.web_port)]
    if stack.use_nginx:
        wanted.append(("API_PORT", "127.0.0.1", stack.api_port))
    taken = [(name, host, port, why) for name, host, port in wanted if (why := port_taken(host, port))]
    if not taken:
        return None
    avoid = {port for _name, _host, port in wanted}
    parts, fixes = [], []
    for name, host, port, why in taken:
        local = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104 - a comparison, not a bind
        ours = health(f"http://{local}:{port}/api/health") is not None and why == "in use"
        parts.append(f"{name} {port} on {host or '*'} is {'taken' if why == 'in use' else 'unusable: ' + why}"
                     + (" (another Anon Hosting is already running there)" if ours else ""))
        new = _free_port_after(local, port, avoid)
        avoid.add(new)
        fixes.append(f"{name}={new}")
    pick = "Pick a free port" if len(fixes) == 1 else "Pick free ports"
    return f"make run: {'; '.join(parts)}. {pick}: {' '.join(fixes)} make run"


def _run(args: argparse.Namespace) -> int:
    web_port = int(os.environ.get("PORT", "8080"))
    # gunicorn's usual port, unless the site itself was asked to take it.
    api_port = int(os.environ.get("API_PORT") or (8000 if web_port != 8000 else free_port()))
    workdir = Path(tempfile.mkdtemp(prefix="anon-hosting-run-"))
    stack = Stack(
        host=os.environ.get("HOST", "127.0.0.1"),
        web_port=web_port,
        api_port=api_port,
        nginx_limits=limits_from_environ(),
        use_nginx=False if args.no_nginx else None,
        workdir=workdir,
    )
    taken = _taken_ports_line(stack)
    if taken:
        shutil.rmtree(workdir, ignore_errors=True)
        print(taken, file=sys.stderr)
        return 1
    # `kill`, make and process managers send SIGTERM: stop as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    print(f"Starting {'gunicorn + nginx' if stack.use_nginx else 'gunicorn alone (no nginx found)'}…", flush=True)
    failure: ProcessFailed | None = None
    try:
        stack.start(timeout=args.timeout)
        print(f"Anon Hosting is running at {stack.url}/  (logs in {workdir}; Ctrl-C to stop)", flush=True)
        while (failure := stack.dead()) is None:
            time.sleep(0.5)
    except ProcessFailed as exc:
        failure = exc
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean stop short
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
    if failure is None:
        shutil.rmtree(workdir, ignore_errors=True)
        return 0
    if failure.report:
        print(f"{failure.report}\n(the logs stay in {workdir})", file=sys.stderr)
    print(f"Stopped: {failure.cause}", file=sys.stderr)
    return 1


def _render(args: argparse.Namespace) -> int:
    """Print the rendered server block (handy to check the template)."""
    sys.stdout.write(render_site(args.listen, FRONTEND, args.backend, client_max_body_size(args.max_upload_bytes),
                                 limits_from_environ()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the site until Ctrl-C (HOST, PORT, API_PORT and nginx's "
                              f"{', '.join(NGINX_LIMITS)} from the environment)")
    run.add_argument("--no-nginx", action="store_true", help="serve with gunicorn alone even if nginx is installed")
    run.add_argument("--timeout", type=float, default=60, help="seconds to wait for start-up")
    run.set_defaults(func=_run)
    render = commands.add_parser("render", help="print the nginx server block rendered from the template")
    render.add_argument("--listen", default="127.0.0.1:8080")
    render.add_argument("--backend", default="127.0.0.1:8000")
    render.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES)
    render.set_defaults(func=_render)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
