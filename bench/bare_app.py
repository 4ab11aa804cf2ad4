"""The floors of the small-file benchmark: the same two requests as the real API, with nothing or only what is required.

Contract: ``create_app(required_work=False)`` returns a Flask app that answers
``POST /api/files`` (a raw body; 201 with a JSON ``token``), ``POST
/api/files/retrieve`` (JSON ``{"token"}``; the stored bytes) and ``GET
/api/health``. bench/perf.py runs each under the same gunicorn settings behind
the same nginx as the real app. Never part of the product.

- ``required_work=False``, the *framework floor*: keeps the body in a file named
  by a random 43-character name (no fsync) and answers a token of our real
  token's length; the retrieve sends the bytes back. No crypto, no token, no
  fsync: what Flask + gunicorn + nginx alone can do. It keeps its files, as the
  real app does: deleting them would make every file creation nearby slower for
  minutes on this machine's ext4 (docs/performance.md, "The file system").
- ``required_work=True``, the *required-work floor*: exactly the operations a
  round trip of the product cannot skip, done with the product's own modules
  and nothing else around them (no options, rate limits, hooks, proxy handling
  or error mapping): a random 256-bit key and storage name, the body encrypted
  (``crypto.stream``) into ``LocalStorage.put`` with a fresh lifecycle state
  (durable: fsynced files and folder), a download token and an owner token
  (``tokens.issue``, jwcrypto); the retrieve verifies the token, reads the state
  and checks it, opens and decrypts the blob. Its rate is the most any app
  built from these parts on this stack can reach.

Files go to $BARE_APP_DIR (the required-work floor keeps its key set there too).
"""

import os
import re
import secrets
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request

TOKEN_LENGTH = 318  # a real download token's length for a 20-character name
NAME = re.compile(r"[A-Za-z0-9_-]{43}")
EXPIRES_IN = 7 * 24 * 3600


def create_app(required_work: bool = False) -> Flask:
    app, folder = Flask(__name__), Path(os.environ["BARE_APP_DIR"])

    @app.get("/api/health")
    def health():
        return {"status": "ok"}

    if required_work:
        _required_work_routes(app, folder)
        return app

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
        return Response((folder / name).read_bytes(), mimetype="application/octet-stream")

    return app


def _required_work_routes(app: Flask, folder: Path) -> None:
    from anon_hosting import lifecycle, tokens
    from anon_hosting.crypto import stream
    from anon_hosting.keys import KeyRing
    from anon_hosting.storage.local import LocalStorage

    storage = LocalStorage(folder / "files")
    keyring = KeyRing(folder / "private", os.environ["SECRET_KEY"])

    @app.post("/api/files")
    def upload():
        now = int(time.time())
        file_key, name = secrets.token_bytes(stream.KEY_SIZE), secrets.token_urlsafe(32)
        state = lifecycle.new(now + EXPIRES_IN, None)
        storage.put(name, stream.encrypt(file_key, [request.get_data()]), state)
        claims = tokens.FileClaims("bench-small-file.bin", name, file_key, now, now + EXPIRES_IN)
        owner = tokens.OwnerClaims(name, now, now + EXPIRES_IN)
        return jsonify(token=tokens.issue(claims, keyring), owner_token=tokens.issue(owner, keyring)), 201

    @app.post("/api/files/retrieve")
    def retrieve():
        claims = tokens.verify(request.get_json()["token"], keyring)
        lifecycle.check_available(storage.read_state(claims.storage_name), time.time())
        blob = storage.open(claims.storage_name)
        with blob.stream:
            data = b"".join(stream.open_blob(claims.file_key, blob.stream.read, blob.size))
        return Response(data, mimetype="application/octet-stream")
