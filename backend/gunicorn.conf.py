"""Gunicorn settings for Anon Hosting (the bind address is given on the command line).

gthread workers (``KeepAliveWorker`` below): every request gets a thread, so a
2 GB upload or download runs alongside short requests; the worker's heartbeat
comes from its main loop, so ``timeout`` never kills a long transfer. Idle
keep-alive connections are closed after ``keepalive`` seconds.
"""

import logging
import os
import select
import shutil
import sys
import tempfile
import threading
import time
import traceback

from gunicorn import glogging
from gunicorn.workers.gthread import ThreadWorker

from anon_hosting import logs as _logs

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
# A request whose peer sends or takes nothing for this long loses its thread (a socket timeout on
# each read and each 1 MiB write). Longer than nginx's 60-s client timeouts, so behind nginx the
# client-facing side ends a stalled transfer first and this only catches what reaches gunicorn directly.
SOCKET_TIMEOUT = float(os.environ.get("GUNICORN_SOCKET_TIMEOUT", "120"))


class KeepAliveWorker(ThreadWorker):
    """gthread, except that a thread goes on serving its kept-alive connection while requests keep coming.

    Stock gthread hands a kept-alive connection back to the main thread after every request, which
    costs about a third of a trivial request's CPU (docs/performance.md, "What is kept"). Behind
    nginx's upstream keepalive the next request mostly comes on the connection just answered, so
    the thread waits up to ``HOLD`` seconds for it first, and hands the connection back as gthread
    does if none comes. It waits only while the
    worker has no more connections than threads, so a thread is free for every connection; a
    connection that arrives while all threads are busy or waiting gets one when a wait or a
    request already under way ends, and from then on the worker behaves exactly as gthread until
    it has no more connections than threads again.
    """

    HOLD = 0.02

    def handle_request(self, req, conn):
        # gthread made the socket blocking without a timeout: a stalled peer would hold the thread.
        conn.sock.settimeout(SOCKET_TIMEOUT)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            # A peer that stopped reading a download: gthread would log a traceback for this socket error
            # (it is quiet only about resets and broken pipes); the app's own line says the download was cut.
            self.log.debug("Closing a connection whose peer took nothing for %s s", SOCKET_TIMEOUT)
            return False

    def handle(self, conn):
        keep = super().handle(conn)
        while keep is True and self.alive and self.nr_conns <= self.cfg.threads and self._next_request(conn):
            keep = super().handle(conn)
        return keep

    def _next_request(self, conn) -> bool:
        if conn.parser.unreader.buf.getvalue():  # already read ahead (as gthread's finish_request checks)
            return True
        poller = select.poll()  # not select(): descriptors above 1023 are fine
        try:
            poller.register(conn.sock, select.POLLIN)
            return bool(poller.poll(self.HOLD * 1000))
        except (OSError, ValueError):  # closed meanwhile: back to gthread, which closes it
            return False


worker_class = KeepAliveWorker


class AccessLogger(glogging.Logger):
    """gunicorn's logger, building only the atoms that access_log_format uses, and writing the line itself.

    The stock ``atoms`` builds about 80 for every request (each request and response header,
    each environ entry, a formatted date) to fill in 7: a few percent of a small request's CPU.
    The stock ``access`` then makes a LogRecord (clock, thread, process, caller) for a message
    that is the line itself: 11 % of a worker's GIL time under small files (py-spy). ``access`` writes the same
    line to the same handlers' streams, under each handler's lock (which a log reopen takes too).
    The output is the same (tests/test_gunicorn_conf.py compares the two).
    """

    def setup(self, cfg):
        """gunicorn's handlers, formatting every line as LOG_FORMAT says (anon_hosting.logs)."""
        super().setup(cfg)
        from anon_hosting import config
        from anon_hosting.errors import ConfigError
        try:
            log_format = config.log_format()
        except ConfigError:  # on_starting reports it and stops
            log_format = "text"
        _logs.configure(log_format)

    def access(self, resp, req, environ, request_time):
        handlers = self.access_log.handlers
        if not self.access_log_enabled or not all(type(h) in _PLAIN and h.stream for h in handlers):
            return super().access(resp, req, environ, request_time)  # syslog or a logging config: stock path
        try:
            atoms = self.atoms(resp, req, environ, request_time)
            if _logs.json_lines():
                line = _logs.access_json(request_id=atoms["{x-request-id}o"], client=atoms["h"], method=atoms["m"],
                                         route=environ.get("anon_hosting.route", "-"), status=str(atoms["s"]),
                                         sent=atoms["B"], duration_ms=atoms["M"]) + "\n"
            else:
                line = self.cfg.access_log_format % self.atoms_wrapper_class(atoms) + "\n"
            for handler in handlers:
                with handler.lock:
                    handler.stream.write(line)
                    handler.stream.flush()
        except Exception:  # noqa: BLE001 - as gunicorn's own access(): a log line never fails a request
            self.error(traceback.format_exc())

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        return {"h": environ.get("REMOTE_ADDR", "-"), "m": environ.get("REQUEST_METHOD"),
                "U": environ.get("PATH_INFO"), "H": environ.get("SERVER_PROTOCOL"), "s": status,
                "B": getattr(resp, "sent", None),
                "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
                "{x-request-id}o": next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")}


_PLAIN = (logging.StreamHandler, logging.FileHandler)
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


# Memory (glibc only; elsewhere, e.g. musl or macOS, nothing is done). Every transfer thread
# moves 1 MiB buffers, and glibc keeps what they free in per-thread arenas: over a 10-minute
# soak a worker's RSS crept from 40 to 170 MiB and stayed there. Two arenas per process (set
# here in the master, before any thread, so the forked workers inherit it) and a trim every
# few seconds keep RSS at what is in use. Fixing the mmap threshold instead costs 3x the
# CPU per MiB (docs/performance.md).
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
