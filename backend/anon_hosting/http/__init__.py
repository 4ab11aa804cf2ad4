"""HTTP layer: blueprints and error mapping, wired onto an app by ``init_app``.

Contract: ``init_app(app)`` registers the /api blueprint, the JSON error
handlers and, when FRONTEND_DIR is configured, the single-page app with the
same security headers nginx would add (the fallback when nginx is absent).
"""

from flask import Flask

from . import errors
from .api import api


def init_app(app: Flask) -> None:
    app.register_blueprint(api)
    errors.register(app)
    site = app.config["SITE"]
    if site.frontend_dir is not None:
        from .site import site_blueprint
        app.register_blueprint(site_blueprint(site.frontend_dir))
