"""The single-page app served by the API process itself, for machines without nginx.

Contract: ``site_blueprint(folder)`` serves the page's own files from
``folder`` at ``/`` (``index.html`` for ``/``; only ``PUBLIC`` files and folders,
so tooling such as package.json or node_modules is never served) with
``SITE_HEADERS`` on every answer, short caching for the page and longer caching
for assets. nginx is the production path; this only keeps
``make run`` working everywhere.
"""

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from ..errors import NotFound
from .headers import SITE_HEADERS

PUBLIC_FILES = {"index.html", "404.html", "favicon.svg"}
PUBLIC_FOLDERS = {"css", "js", "locales", "vendor"}


def site_blueprint(folder: Path) -> Blueprint:
    site = Blueprint("site", __name__)

    @site.get("/")
    def index():
        return send_from_directory(folder, "index.html", max_age=0)

    @site.get("/<path:path>")
    def asset(path: str):
        parts = path.split("/")
        allowed = path in PUBLIC_FILES or (len(parts) > 1 and parts[0] in PUBLIC_FOLDERS)
        if not allowed or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            raise NotFound("There is nothing at this address.")
        return send_from_directory(folder, path, max_age=3600)

    @site.after_app_request
    def _site_headers(response: Response):
        for name, value in SITE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return site
