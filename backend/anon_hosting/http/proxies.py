"""Believing X-Forwarded-For only from the proxy in front.

Contract: ``TrustedProxyFix(app, hops, addrs)`` is WSGI middleware. A request
whose peer (``REMOTE_ADDR``) is one of ``addrs`` goes through Werkzeug's
``ProxyFix(x_for=hops, x_proto=hops)``, which takes the client address from the
``hops``-th X-Forwarded-For entry from the right. Any other request has its
X-Forwarded-* headers removed and keeps its peer address, so a client that
reaches the backend directly cannot choose the address that rate limits and the
access log see. ``addrs`` holds IP addresses, networks, or host names (a compose
service such as ``nginx``). A peer that is not among the names' known addresses
waits, at most ``WAIT`` seconds, for a lookup begun after it arrived, so a proxy
started again with a new address is believed from its first request, and a slow
or failing DNS (the proxy's container being recreated) never holds a request longer.
Lookups run on threads of their own, up to ``MAX_LOOKUPS`` at once, so one that hangs
(a name that is gone, on a network without an upstream resolver) does not hold back
the next; an answer replaces the known addresses only if its lookup began later.
"""

import ipaddress
import socket
import threading
import time

from werkzeug.middleware.proxy_fix import ProxyFix

WAIT = 2.0  # seconds a request from an unknown peer waits for a fresh lookup of the names
MIN_GAP = 0.1  # seconds between the starts of two lookups, so unknown peers cannot flood the DNS
MAX_LOOKUPS = 4  # lookups in flight at once, so a hanging DNS cannot pile up threads
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class TrustedProxyFix:
    def __init__(self, app, hops: int, addrs: tuple[str, ...], resolve=socket.getaddrinfo):
        self._app = app
        self._fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
        self._trusted = ProxyAddresses(addrs, resolve)

    def __call__(self, environ, start_response):
        if self._trusted.contains(environ.get("REMOTE_ADDR", "")):
            return self._fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self._app(environ, start_response)


class ProxyAddresses:
    def __init__(self, entries: tuple[str, ...], resolve=socket.getaddrinfo):
        self._networks, self._names = [], []
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.append(entry)
        self._resolve = resolve
        self._resolved: frozenset[str] = frozenset()
        self._started = float("-inf")  # when the lookup behind _resolved began
        self._last_start = float("-inf")  # when the newest lookup began
        self._wanted = float("-inf")  # the arrival of the newest peer waiting for a lookup
        self._in_flight = 0
        self._cond = threading.Condition()
        self._lookups: threading.Thread | None = None  # starts the lookups

    def contains(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        if any(ip in network for network in self._networks):
            return True
        if not self._names:
            return False
        return addr in self._resolved or addr in self._fresh(time.monotonic())

    def _fresh(self, arrived: float) -> frozenset[str]:
        """The addresses from a lookup begun at or after ``arrived``, or the last known after WAIT."""
        with self._cond:
            self._wanted = max(self._wanted, arrived)
            if self._lookups is None or not self._lookups.is_alive():  # none yet, or not in this forked worker
                self._lookups = threading.Thread(target=self._look_up, name="proxy-lookups", daemon=True)
                self._lookups.start()
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._started >= arrived, timeout=WAIT)
            return self._resolved

    def _look_up(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted > self._last_start and self._in_flight < MAX_LOOKUPS)
            time.sleep(max(0.0, self._last_start + MIN_GAP - time.monotonic()))
            with self._cond:
                self._last_start = time.monotonic()
                self._in_flight += 1
            threading.Thread(target=self._lookup, args=(self._last_start,), name="proxy-lookup", daemon=True).start()

    def _lookup(self, started: float) -> None:
        found = set()
        try:
            for name in self._names:
                try:
                    found.update(info[4][0] for info in self._resolve(name, None, proto=socket.IPPROTO_TCP))
                except OSError:  # not resolvable (the proxy's container not started): trust nobody by it
                    continue
        finally:
            with self._cond:
                self._in_flight -= 1
                if started > self._started:
                    self._resolved, self._started = frozenset(found), started
                self._cond.notify_all()
