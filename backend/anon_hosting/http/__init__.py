"""HTTP layer: blueprints and error mapping, wired onto an app by ``init_app``.

Contract: ``init_app(app)`` registers the /api blueprint, the JSON error
handlers, the per-client rate limiters, ``GET /metrics`` and the request ids and
counts of every request (``metrics.Observed``) and, when FRONTEND_DIR is configured,
the single-page app with the same security headers nginx would add (the
fallback when nginx is absent). With TRUSTED_PROXIES = n > 0, a request from one
of TRUSTED_PROXY_ADDRS has its client address taken from the n-th X-Forwarded-For
entry from the right (the one our own proxy set; ``proxies.TrustedProxyFix``); from
anyone else, and with 0, X-Forwarded-For is ignored. URLs are matched as sent:
Werkzeug never answers with a redirect (merge_slashes off; any other redirect it
would build is answered ``404``, see ``errors``), since its redirects rebuild the
URL from the client's Host header.
"""

from flask import Flask

from . import (
    bundles,  # noqa: F401 - importing it adds POST /api/bundles to the api blueprint
    errors,
    metrics,
    tus,
)
from .api import api
from .proxies import TrustedProxyFix
from .ratelimit import ClientLimits

TUS_EXPOSED_HEADERS = tus.EXPOSED_HEADERS


def init_app(app: Flask) -> None:
    app.url_map.merge_slashes = False
    app.register_blueprint(api)
    errors.register(app)
    site = app.config["SITE"]
    app.extensions["anon_hosting.limits"] = ClientLimits.from_config(site)
    metrics.register(app)
    if site.trusted_proxies:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, site.trusted_proxies, site.trusted_proxy_addrs)
    app.wsgi_app = metrics.Observed(app.wsgi_app)
    if site.frontend_dir is not None:
        from .site import site_blueprint
        app.register_blueprint(site_blueprint(site.frontend_dir))
