"""The single-page app served by the API process itself, for machines without nginx.

Contract: ``site_blueprint(folder)`` serves ``folder`` at ``/`` (``index.html``
for ``/``) with ``SITE_HEADERS`` on every answer, short caching for the page and
longer caching for assets. nginx is the production path; this only keeps
``make run`` working everywhere.
"""

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from .headers import SITE_HEADERS


def site_blueprint(folder: Path) -> Blueprint:
    site = Blueprint("site", __name__)

    @site.get("/")
    def index():
        return send_from_directory(folder, "index.html", max_age=0)

    @site.get("/<path:path>")
    def asset(path: str):
        return send_from_directory(folder, path, max_age=3600)

    @site.after_app_request
    def _site_headers(response: Response):
        for name, value in SITE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return site
