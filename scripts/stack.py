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
  nginx.conf wrapping nginx/templates/default.conf.template (stacklib/nginx.py).
- This is the one place that starts gunicorn and nginx: the integration tests'
  ``GunicornServer`` and the benchmarks build on ``stacklib.processes``.
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
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # stacklib, also when this file is loaded by path

from stacklib.nginx import (  # noqa: E402
    FRONTEND,
    NGINX_LIMITS,
    NO_NGINX_LIMITS,
    client_max_body_size,
    limits_from_environ,
    render_site,
)
from stacklib.processes import ProcessFailed, free_port, free_port_after, health, port_taken  # noqa: E402
from stacklib.stack import DEFAULT_MAX_UPLOAD_BYTES, Stack  # noqa: E402

__all__ = ["NGINX_LIMITS", "NO_NGINX_LIMITS", "ProcessFailed", "Stack", "free_port", "health", "port_taken"]


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
        new = free_port_after(local, port, avoid)
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
