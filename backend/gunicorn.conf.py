"""Gunicorn settings for Anon Hosting (the bind address is given on the command line).

gthread workers (``KeepAliveWorker`` below): every request gets a thread, so a
2 GB upload or download runs alongside short requests; the worker's heartbeat
comes from its main loop, so ``timeout`` never kills a long transfer. Idle
keep-alive connections are closed after ``keepalive`` seconds.
"""

import logging
import os
import select
import sys
import threading
import time
import traceback

from gunicorn import glogging
from gunicorn.workers.gthread import ThreadWorker

wsgi_app = "anon_hosting:create_app()"
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
        return super().handle_request(req, conn)

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

    def access(self, resp, req, environ, request_time):
        handlers = self.access_log.handlers
        if not self.access_log_enabled or not all(type(h) in _PLAIN and h.stream for h in handlers):
            return super().access(resp, req, environ, request_time)  # syslog or a logging config: stock path
        try:
            atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
            line = self.cfg.access_log_format % atoms + "\n"
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
                "M": request_time.seconds * 1000 + request_time.microseconds // 1000}


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
