"""The framework floor of the small-file benchmark: the same two requests with no crypto, no token and no fsync.

Contract: ``create_app()`` returns a Flask app that answers ``POST /api/files``
(keeps the body in a file named by a random 43-character name, no fsync, and
answers 201 with a JSON ``token`` of our real token's length) and ``POST
/api/files/retrieve`` (JSON ``{"token"}``; answers the stored bytes and removes
them), plus ``GET /api/health``. bench/perf.py runs it under the same gunicorn
settings behind the same nginx as the real app, so its round trips per second
are what Flask + gunicorn + nginx alone can do on this machine: the ceiling for
any app on this stack. Files go to $BARE_APP_DIR. Never part of the product.
"""

import os
import re
import secrets
from pathlib import Path

from flask import Flask, Response, jsonify, request

TOKEN_LENGTH = 318  # a real download token's length for a 20-character name
NAME = re.compile(r"[A-Za-z0-9_-]{43}")


def create_app() -> Flask:
    app, folder = Flask(__name__), Path(os.environ["BARE_APP_DIR"])

    @app.get("/api/health")
    def health():
        return {"status": "ok"}

    @app.post("/api/files")
    def upload():
        name = secrets.token_urlsafe(32)
        (folder / name).write_bytes(request.get_data())
        return jsonify(token=name + "." * (TOKEN_LENGTH - len(name))), 201

    @app.post("/api/files/retrieve")
    def retrieve():
        name = request.get_json()["token"][:43]
        if not NAME.fullmatch(name):
            return {"error": "bad_request"}, 400
        path = folder / name
        data = path.read_bytes()
        path.unlink()
        return Response(data, mimetype="application/octet-stream")

    return app
