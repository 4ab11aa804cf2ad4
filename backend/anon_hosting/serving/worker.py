"""gunicorn's gthread worker, with a socket timeout on each request so that a stalled peer cannot hold a thread.

Contract: ``SocketTimeoutWorker`` is gthread (every request gets a thread, so a 2 GB transfer runs
alongside short requests) whose request sockets time out after ``SOCKET_TIMEOUT`` seconds
(``GUNICORN_SOCKET_TIMEOUT``, default 120) without a byte read or written. That is longer than
nginx's 60-s client timeouts, so behind nginx the client-facing side ends a stalled transfer first,
and this only catches a peer that reaches gunicorn directly (docs/reliability.md, "Hostile clients").

gunicorn internals it relies on (``gunicorn.workers.gthread``, not documented API):
- ``ThreadWorker.handle_request(self, req, conn)``, called on the request's thread;
- ``conn.sock``, the connection's socket (``TConn.sock``), which gthread leaves blocking with no timeout;
- ``handle_request`` returning False, which closes the connection instead of keeping it alive.
"""

import os

from gunicorn.workers.gthread import ThreadWorker

SOCKET_TIMEOUT = float(os.environ.get("GUNICORN_SOCKET_TIMEOUT", "120"))


class SocketTimeoutWorker(ThreadWorker):
    def handle_request(self, req, conn):
        conn.sock.settimeout(SOCKET_TIMEOUT)
        try:
            return super().handle_request(req, conn)
        except TimeoutError:
            # A peer that stopped reading a download: gthread would log a traceback for this socket error
            # (it is quiet only about resets and broken pipes); the app's own line says the download was cut.
            self.log.debug("Closing a connection whose peer took nothing for %s s", SOCKET_TIMEOUT)
            return False
