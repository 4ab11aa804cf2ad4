"""Gunicorn settings for Anon Hosting (the bind address is given on the command line).

gthread workers (anon_hosting/serving/worker.py): every request gets a thread, and large
transfers never take the last two of a worker's threads, so short requests are served at once
however many 2 GB uploads and downloads run; the worker's heartbeat
comes from its main loop, so ``timeout`` never kills a long transfer. Idle
keep-alive connections are closed after ``keepalive`` seconds.
"""

import os
import shutil
import sys
import tempfile
import threading
import time

from anon_hosting.serving.access_log import AccessLogger
from anon_hosting.serving.worker import LaneWorker

wsgi_app = "anon_hosting:create_app()"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
graceful_timeout = 30
keepalive = 5  # nginx closes its idle upstream connections first (keepalive_timeout 4s)
# No query string in the access log: a URL is never a place for a token, and we
# refuse such requests, but the log must not keep one either.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s'
errorlog = "-"
control_socket_disable = True  # no management socket under $HOME (absent for the container user)
# At or above nginx's own header limits (8 KiB lines, 4 x 8 KiB of headers), so a request nginx
# forwards never meets gunicorn's HTML 414 or 431 instead of the API's JSON errors.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 32768
# gthread with a lane for transfers (GUNICORN_TRANSFER_THREADS) and a socket timeout on each request
# (GUNICORN_SOCKET_TIMEOUT), and a leaner access logger
# that writes each line as LOG_FORMAT says.
worker_class = LaneWorker
logger_class = AccessLogger


def on_starting(server):
    """Fail fast with one clear line instead of a worker traceback (the key set is only opened, never created)."""
    from anon_hosting.config import load
    from anon_hosting.errors import ConfigError
    from anon_hosting.keys import check
    try:
        site = load()
        check(site.private_dir, site.secret_key)
    except ConfigError as exc:
        print(f"anon-hosting: configuration error: {exc}", file=sys.stderr)
        sys.exit(1)
    _metrics_folder()


# Metrics: prometheus_client's multiprocess mode, where every worker writes its values to files in
# PROMETHEUS_MULTIPROC_DIR and GET /metrics adds them up (anon_hosting/metrics.py). The folder is
# the environment's (emptied at start: values of an earlier run would be added in), else a fresh
# one in the temp folder, removed at exit. It is set here, in the master before the first worker
# forks, because prometheus_client reads it when first imported.
_OWN_METRICS_FOLDER = []


def _metrics_folder():
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="anon-hosting-metrics-")
        _OWN_METRICS_FOLDER.append(folder)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.name.endswith(".db") and entry.is_file():
            os.unlink(entry.path)


def child_exit(server, worker):
    """A dead worker's live gauges (scrypt derivations running) no longer count; its counters still do."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    for folder in _OWN_METRICS_FOLDER:
        shutil.rmtree(folder, ignore_errors=True)


# Memory (glibc only; elsewhere, e.g. musl or macOS, nothing is done). Transfer threads free 1 MiB
# buffers that glibc would keep in per-thread arenas; two arenas per process (set here in the master,
# before any thread, so the forked workers inherit it) and a periodic trim keep RSS at what is in use
# (docs/reliability.md, "Worker memory").
M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2
TRIM_EVERY = 5  # seconds


def _glibc():
    import ctypes
    libc = ctypes.CDLL(None)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
if _LIBC is not None:
    _LIBC.mallopt(M_ARENA_MAX, ARENAS)


def post_worker_init(worker):
    """Give the memory that finished transfers freed back to the system, every TRIM_EVERY seconds."""
    if _LIBC is None:
        return

    def trim():
        while True:
            time.sleep(TRIM_EVERY)
            _LIBC.malloc_trim(0)

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
