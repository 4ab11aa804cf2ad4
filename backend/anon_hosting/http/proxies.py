"""Believing X-Forwarded-For only from the proxy in front.

Contract: ``TrustedProxyFix(app, hops, addrs)`` is WSGI middleware. A request
whose peer (``REMOTE_ADDR``) is one of ``addrs`` goes through Werkzeug's
``ProxyFix(x_for=hops, x_proto=hops)``, which takes the client address from the
``hops``-th X-Forwarded-For entry from the right. Any other request has its
X-Forwarded-* headers removed and keeps its peer address, so a client that
reaches the backend directly cannot choose the address that rate limits and the
access log see. ``addrs`` holds IP addresses, networks, or host names (a compose
service such as ``nginx``); names are resolved when first needed and again, at
most every ``RESOLVE_EVERY`` seconds, when an unknown peer asks.
"""

import ipaddress
import socket
import threading
import time

from werkzeug.middleware.proxy_fix import ProxyFix

RESOLVE_EVERY = 1.0  # seconds: a proxy container started again comes back with a new address
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class TrustedProxyFix:
    def __init__(self, app, hops: int, addrs: tuple[str, ...], resolve=socket.getaddrinfo, clock=time.monotonic):
        self._app = app
        self._fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
        self._trusted = ProxyAddresses(addrs, resolve, clock)

    def __call__(self, environ, start_response):
        if self._trusted.contains(environ.get("REMOTE_ADDR", "")):
            return self._fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self._app(environ, start_response)


class ProxyAddresses:
    def __init__(self, entries: tuple[str, ...], resolve=socket.getaddrinfo, clock=time.monotonic):
        self._networks, self._names = [], []
        for entry in entries:
            try:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self._names.append(entry)
        self._resolve, self._clock = resolve, clock
        self._resolved: frozenset[str] = frozenset()
        self._resolved_at: float | None = None
        self._lock = threading.Lock()

    def contains(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        if any(ip in network for network in self._networks):
            return True
        if not self._names:
            return False
        if addr not in self._resolved and self._due():
            self._refresh()
        return addr in self._resolved

    def _due(self) -> bool:
        return self._resolved_at is None or self._clock() - self._resolved_at >= RESOLVE_EVERY

    def _refresh(self) -> None:
        with self._lock:
            if not self._due():
                return
            found = set()
            for name in self._names:
                try:
                    found.update(info[4][0] for info in self._resolve(name, None, proto=socket.IPPROTO_TCP))
                except OSError:  # not resolvable yet (the proxy's container not started): trust nobody by it
                    continue
            self._resolved, self._resolved_at = frozenset(found), self._clock()
