"""``Stack``: gunicorn, and nginx in front of it when nginx is installed, on loopback ports (see scripts/stack.py).

Contract: ``Stack(...).start()`` returns once both servers answer /api/health with the stack's own
random INSTANCE_ID, else raises ``ProcessFailed`` after stopping what it started; ``stop()`` ends
them (nginx with SIGQUIT, gunicorn with SIGTERM) and removes what the stack made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .nginx import (
    FRONTEND,
    NGINX_LIMITS,
    NO_NGINX_LIMITS,
    client_max_body_size,
    frontend_root,
    nginx_binary,
    render_site,
    write_conf,
)
from .processes import (
    APP,
    ProcessFailed,
    default_gunicorn,
    failure,
    free_port,
    gunicorn_command,
    launch,
    stop,
    wait_http,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3


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
        self.gunicorn_bin = Path(gunicorn) if gunicorn else default_gunicorn()
        self.gunicorn_log = self.workdir / "gunicorn.log"
        self.nginx_prefix = self.workdir / "nginx"
        self.nginx_log = self.workdir / "nginx.log"  # access log (stdout) and start-up errors
        self.nginx_error_log = self.nginx_prefix / "logs" / "error.log"
        self.gunicorn: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self._html_copy: Path | None = None  # a folder to remove: the page copied for nginx's workers

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
            wait_http(f"{self.api_url}/api/health", deadline, self.gunicorn, self.gunicorn_log, self.instance_id)
            if self.use_nginx:
                self._start_nginx()
                wait_http(f"{self.url}/api/health", deadline, self.nginx, self.nginx_error_log, self.instance_id)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop(self.nginx, signal.SIGQUIT)
        stop(self.gunicorn, signal.SIGTERM, timeout=35)
        if self._html_copy:
            shutil.rmtree(self._html_copy, ignore_errors=True)
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
                return failure(proc, log)
        return None

    def _start_gunicorn(self) -> None:
        bind = f"127.0.0.1:{self.api_port}" if self.use_nginx else f"{self.host}:{self.web_port}"
        self.gunicorn = launch(self.gunicorn_command(bind), self.gunicorn_log, env=self.backend_env(), cwd=REPO)

    def gunicorn_command(self, bind: str, app: str = APP) -> list[str]:
        """gunicorn with our settings, bound to ``bind``, serving ``app``."""
        return gunicorn_command(bind, gunicorn=self.gunicorn_bin, app=app)

    def _start_nginx(self) -> None:
        cmd = [nginx_binary() or "nginx", "-p", f"{self.nginx_prefix}/", "-e", str(self.nginx_error_log),
               "-c", str(self.write_nginx_conf()), "-g", "daemon off;"]
        self.nginx = launch(cmd, self.nginx_log, cwd=self.workdir)

    def write_nginx_conf(self) -> Path:
        """Lay out the nginx prefix and return the main nginx.conf path."""
        root, self._html_copy = frontend_root()
        site = render_site(listen=f"{self.host}:{self.web_port}", frontend_root=root,
                           backend_addr=f"127.0.0.1:{self.api_port}",
                           body_size=client_max_body_size(self.max_upload_bytes()), limits=self.nginx_limits)
        return write_conf(self.nginx_prefix, self.workdir, site)
