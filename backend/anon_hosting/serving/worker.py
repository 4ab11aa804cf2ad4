"""gunicorn's gthread worker with two lanes, so that large transfers never take every thread, and a
socket timeout on each request, so that a stalled peer cannot hold a thread.

Contract: ``LaneWorker`` is gthread (a request runs on one of the worker's ``threads`` threads from
its first byte to its last). Before a request gets a thread, the worker peeks at its head
(serving/lanes.py): at most ``TRANSFER_THREADS`` transfers (``GUNICORN_TRANSFER_THREADS``, default
``threads`` less 2) run at once, and the others wait, in order, for one to end. The threads left
over serve short requests at once however many transfers are running or waiting (docs/costs.md,
"What each limit is"); the gauge ``anon_hosting_transfers{state}`` counts both. Request sockets
time out after ``SOCKET_TIMEOUT`` seconds (``GUNICORN_SOCKET_TIMEOUT``, default 120) without a
byte read or written. That is longer than nginx's 60-s client timeouts, so behind nginx the
client-facing side ends a stalled transfer first, and this only catches a peer that reaches
gunicorn directly (docs/reliability.md, "Hostile clients").

gunicorn internals it relies on (``gunicorn.workers.gthread``, not documented API; checked by
tests/serving/test_internals.py):
- ``ThreadWorker.enqueue_req(self, conn)``, called on the main thread for every request, which
  submits ``self.handle`` to ``self.tpool`` and hands the future to ``self.finish_request`` through
  ``self.method_queue.defer``;
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
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import ThreadWorker

from anon_hosting.serving.lanes import is_transfer

SOCKET_TIMEOUT = float(os.environ.get("GUNICORN_SOCKET_TIMEOUT", "120"))
SHORT_THREADS = 2  # threads a worker keeps for short requests unless GUNICORN_TRANSFER_THREADS says otherwise
PEEK = 8192  # gunicorn's own limit on a request line (limit_request_line)
UNREADABLE = b"\x00"  # a head the lane cannot read, which serving/lanes.py counts as a transfer


class LaneWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default = max(1, self.cfg.threads - SHORT_THREADS)
        self.transfer_threads = max(1, int(os.environ.get("GUNICORN_TRANSFER_THREADS", default)))
        self.transfers = 0
        self.waiting = deque()

    def init_process(self):
        from anon_hosting import metrics  # after the fork: prometheus_client reads PROMETHEUS_MULTIPROC_DIR then
        self.running_gauge, self.waiting_gauge = (metrics.TRANSFERS.labels(state) for state in ("running", "waiting"))
        super().init_process()

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
        future = self.tpool.submit(self.handle, conn)
        future.add_done_callback(lambda done: self.method_queue.defer(self._transfer_ended, conn, done))

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
