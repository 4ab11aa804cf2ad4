"""gunicorn's gthread worker with two lanes, so that large transfers never take every thread, and a
socket timeout on each request, so that a stalled peer cannot hold a thread.

Contract: ``LaneWorker`` is gthread (a request runs on one of the worker's ``threads`` threads from
its first byte to its last). Before a request gets a thread, the worker peeks at its head
(serving/lanes.py): at most ``TRANSFER_THREADS`` transfers (``GUNICORN_TRANSFER_THREADS``, default
``threads`` less 2) run at once, and the others wait, in order, for one to end. The threads left
over serve short requests at once however many transfers are running or waiting (docs/costs.md,
"What each limit is"); the gauge ``anon_hosting_transfers{state}`` counts both. A transfer that
has run ``NICER_AFTER`` seconds runs ``TRANSFER_NICE`` steps nicer until it ends, so that when the
cores are busy short requests get them first; its thread then retires (serving/pool.py), since an
unprivileged process cannot make it as nice as before again.
Request sockets time out after ``SOCKET_TIMEOUT`` seconds (``GUNICORN_SOCKET_TIMEOUT``, default
120) without a byte read or written. That is longer than nginx's 60-s client timeouts, so behind
nginx the client-facing side ends a stalled transfer first, and this only catches a peer that
reaches gunicorn directly (docs/reliability.md, "Hostile clients").

gunicorn internals it relies on (``gunicorn.workers.gthread``, not documented API; checked by
tests/serving/test_internals.py):
- ``ThreadWorker.enqueue_req(self, conn)``, called on the main thread for every request, which
  submits ``self.handle`` to ``self.tpool`` and hands the future to ``self.finish_request`` through
  ``self.method_queue.defer``; ``self.tpool`` made by ``get_thread_pool`` (a documented hook), of
  which gthread uses ``submit`` and ``shutdown(wait=False)`` alone;
- ``pending_conns`` and ``on_pending_socket_readable``, gthread's own wait for a connection's first
  bytes, bounded by ``keepalive`` (``murder_pending``);
- ``ThreadWorker.handle_request(self, req, conn)``, called on the request's thread;
- ``conn.sock``, the connection's socket (``TConn.sock``), which gthread leaves blocking with no timeout;
- ``handle_request`` returning False, which closes the connection instead of keeping it alive.
"""

import os
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

from anon_hosting.serving.lanes import is_transfer
from anon_hosting.serving.pool import Pool

SOCKET_TIMEOUT = float(os.environ.get("GUNICORN_SOCKET_TIMEOUT", "120"))
SHORT_THREADS = 2  # threads a worker keeps for short requests unless GUNICORN_TRANSFER_THREADS says otherwise
PEEK = 8192  # gunicorn's own limit on a request line (limit_request_line)
UNREADABLE = b"\x00"  # a head the lane cannot read, which serving/lanes.py counts as a transfer
TRANSFER_NICE = 10  # a nicer transfer's CPU weight is then a tenth of a short request's when both wait for a core
NICER_AFTER = 0.1  # seconds: a small download ends before, so it never waits behind the nginx and clients it serves


class LaneWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = max(1, self.cfg.threads - SHORT_THREADS)
        self.transfer_threads = max(1, int(os.environ.get("GUNICORN_TRANSFER_THREADS", default)))
        self.transfers = 0
        self.waiting = deque()
        self.running = {}  # a running transfer's thread id -> [its start, whether it was made nicer]
        self.running_changed = threading.Condition()

    def init_process(self):
        from anon_hosting import metrics  # after the fork: prometheus_client reads PROMETHEUS_MULTIPROC_DIR then
        self.running_gauge, self.waiting_gauge = (metrics.TRANSFERS.labels(state) for state in ("running", "waiting"))
        threading.Thread(target=self._make_nicer, name="nicer", daemon=True).start()
        super().init_process()

    def get_thread_pool(self):
        return Pool(self.cfg.threads)

    def enqueue_req(self, conn):
        head = self._peek(conn)
        if head is None:
            self._await_bytes(conn)
        elif not head or not is_transfer(head):
            super().enqueue_req(conn)  # a closed connection is short work too: its thread just closes it
        elif self.transfers < self.transfer_threads:
            self._start_transfer(conn)
        else:
            self.waiting.append(conn)
            self.waiting_gauge.set(len(self.waiting))

    @staticmethod
    def _peek(conn):
        """The bytes that have arrived (gthread's read-ahead first), b"" at the end or on an error, or None.

        Never waits: it runs on the main thread, which serves every connection of the worker."""
        parser = conn.parser
        buffered = parser.unreader.buf.getvalue() if parser is not None and hasattr(parser, "unreader") else b""
        if isinstance(conn.sock, ssl.SSLSocket):
            return buffered or UNREADABLE  # no peeking under TLS, whose own buffer the poller cannot see
        try:
            conn.sock.setblocking(False)  # a socket with a timeout waits for data first, MSG_DONTWAIT or not
            return buffered + conn.sock.recv(PEEK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return buffered or None
        except OSError:
            return b""  # the thread meets the same error and closes the connection

    def _await_bytes(self, conn):
        """A connection accepted before its request arrived waits in the poller, not on a thread."""
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def _start_transfer(self, conn):
        self.transfers += 1
        self.running_gauge.set(self.transfers)
        future = self.tpool.submit(self._transfer, conn)
        future.add_done_callback(lambda done: self.method_queue.defer(self._transfer_ended, conn, done))

    def _transfer(self, conn):
        thread, entry = threading.get_native_id(), [time.monotonic(), False]
        with self.running_changed:
            self.running[thread] = entry
            self.running_changed.notify()
        try:
            return self.handle(conn)
        finally:
            with self.running_changed:
                del self.running[thread]
            if entry[1]:
                self.tpool.retire()

    def _make_nicer(self):
        """Every NICER_AFTER / 2 seconds while transfers run, makes those that have run NICER_AFTER nicer."""
        while True:
            with self.running_changed:
                self.running_changed.wait_for(lambda: self.running)
                now = time.monotonic()
                for thread, entry in self.running.items():
                    if not entry[1] and now - entry[0] >= NICER_AFTER:
                        entry[1] = True
                        try:
                            os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread)
                                           + TRANSFER_NICE)
                        except OSError as exc:  # a sandbox that forbids it: the transfer keeps its priority
                            self.log.debug("A transfer keeps its priority (setpriority: %s)", exc.strerror)
            time.sleep(NICER_AFTER / 2)

    def _transfer_ended(self, conn, future):
        self.transfers -= 1
        self.running_gauge.set(self.transfers)
        if self.waiting:
            self._start_transfer(self.waiting.popleft())
            self.waiting_gauge.set(len(self.waiting))
        self.finish_request(conn, future)

    def handle_request(self, req, conn):
        conn.sock.settimeout(SOCKET_TIMEOUT)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            # A peer that stopped reading a download: gthread would log a traceback for this socket error
            # (it is quiet only about resets and broken pipes); the app's own line says the download was cut.
            self.log.debug("Closing a connection whose peer took nothing for %s s", SOCKET_TIMEOUT)
            return False
