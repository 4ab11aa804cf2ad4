"""Anon Hosting: a self-hosted encrypted file drop.

Contract: ``create_app(test_config=None)`` builds the Flask app. It reads and
validates the configuration (``config``), opens the storage and sweeps what dead
writers left, opens or creates the sealed key set, and wires them into one
``FileService`` that the HTTP layer uses. Nothing is created at import time,
and nothing of the server is imported either: Flask and the crypto load inside
``create_app``, so the command-line client (``anon_hosting.client``, which
imports this package first) starts small and fast.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from . import config
    from .service import FileService


def create_app(test_config: dict | None = None) -> Flask:
    from flask import Flask

    from . import cli, config, http, keys, logs
    from .bundle_join import BundleJoin
    from .results import Limits
    from .resumable import ResumableUploads
    from .service import FileService
    from .storage import from_config, partials_for

    site = config.load(test_config)
    logs.configure(site.log_format)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SITE=site,
        TESTING=site.testing,
        MAX_CONTENT_LENGTH=64 * 1024,  # token bodies; the upload route raises its own limit
        MAX_FORM_MEMORY_SIZE=16 * 1024,
        MAX_FORM_PARTS=8,
        JSON_SORT_KEYS=False,
    )
    storage = from_config(site)
    storage.sweep_temp()
    keyring = keys.KeyRing(site.private_dir, site.secret_key)
    limits = Limits(site.max_upload_bytes, site.default_expires_in, site.max_expires_in, site.max_bundle_files)
    service = FileService(storage, keyring, limits)
    app.extensions["anon_hosting"] = service
    uploads = ResumableUploads(service, partials_for(storage), site.upload_session_ttl)
    app.extensions["anon_hosting.uploads"] = uploads
    app.extensions["anon_hosting.joins"] = BundleJoin(service.bundles, uploads)
    http.init_app(app)
    if site.sweep_interval and not site.testing:
        _start_sweeper_on_first_request(app, service, site)
    cli.init_app(app)
    if site.cors_origins:
        from flask_cors import CORS
        CORS(app, resources={r"/api/*": {"origins": list(site.cors_origins)}},
             expose_headers=["Content-Disposition", "Content-Length", *http.TUS_EXPOSED_HEADERS])
    return app


def _start_sweeper_on_first_request(app: Flask, service: FileService, site: config.Config) -> None:
    """Serving processes sweep; CLI commands, which also build the app, do not."""
    from . import sweeper

    started = []

    @app.before_request
    def _start():
        if not started:
            started.append(sweeper.start(service, site.sweep_interval, _sweeper_lock(site)))


def _sweeper_lock(site: config.Config) -> Path:
    """Beside the blobs when they are on local disk, so one worker per storage folder sweeps it."""
    if site.storage_dir.is_dir():
        return site.storage_dir / ".sweeper.lock"
    digest = hashlib.sha256(str(site.storage_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"anon-hosting-sweeper-{digest}.lock"
