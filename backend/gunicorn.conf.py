"""Gunicorn settings for Anon Hosting (the bind address is given on the command line).

gthread workers: every request gets a thread, so a 2 GB upload or download runs
alongside short requests; the worker's heartbeat comes from its main loop, so
``timeout`` never kills a long transfer. Idle keep-alive connections are closed
after ``keepalive`` seconds.
"""

import os
import sys

wsgi_app = "anon_hosting:create_app()"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
graceful_timeout = 30
keepalive = 5  # nginx closes its idle upstream connections first (keepalive_timeout 4s)
# No query string in the access log: a URL is never a place for a token, and we
# refuse such requests, but the log must not keep one either.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
control_socket_disable = True  # no management socket under $HOME (absent for the container user)


def on_starting(server):
    """Fail fast with one clear line instead of a worker traceback."""
    from anon_hosting.config import load
    from anon_hosting.errors import ConfigError
    try:
        load()
    except ConfigError as exc:
        print(f"anon-hosting: configuration error: {exc}", file=sys.stderr)
        sys.exit(1)
