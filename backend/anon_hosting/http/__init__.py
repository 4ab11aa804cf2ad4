"""HTTP layer: blueprints and error mapping, wired onto an app by ``init_app``.

Contract: ``init_app(app)`` registers the /api blueprint, the JSON error
handlers, the per-client rate limiters and, when FRONTEND_DIR is configured,
the single-page app with the same security headers nginx would add (the
fallback when nginx is absent). With TRUSTED_PROXIES = n > 0, Werkzeug's
ProxyFix takes the client address from the n-th X-Forwarded-For entry from the
right (the one our own proxy appended); with 0, X-Forwarded-For is ignored.
"""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors
from .api import api
from .ratelimit import ClientLimits


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    errors.register(app)
    site = app.config["SITE"]
    app.extensions["anon_hosting.limits"] = ClientLimits.from_config(site)
    if site.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=site.trusted_proxies, x_proto=site.trusted_proxies,
                                x_host=0, x_port=0, x_prefix=0)
    if site.frontend_dir is not None:
        from .site import site_blueprint
        app.register_blueprint(site_blueprint(site.frontend_dir))
