"""bench/bare_app.py: the two floors of the small-file benchmark answer the real requests, and the
required-work floor really does the required work (an encrypted, durable blob and state; real tokens)."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from anon_hosting import tokens
from anon_hosting.keys import KeyRing
from tests.storage.stores import local_blob, local_state

BENCH = Path(__file__).resolve().parents[1]
PAYLOAD = os.urandom(4096)


@pytest.fixture
def bare_app(tmp_path, monkeypatch):
    monkeypatch.setenv("BARE_APP_DIR", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    spec = importlib.util.spec_from_file_location("anon_hosting_bench_bare_app", BENCH / "bare_app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def round_trip(app) -> str:
    client = app.test_client()
    answer = client.post("/api/files", data=PAYLOAD, content_type="application/octet-stream")
    assert answer.status_code == 201
    token = answer.get_json()["token"]
    back = client.post("/api/files/retrieve", json={"token": token})
    assert back.status_code == 200 and back.data == PAYLOAD
    return token


def test_the_framework_floor_round_trips(bare_app):
    assert len(round_trip(bare_app.create_app())) == bare_app.TOKEN_LENGTH


def test_the_required_work_floor_stores_encrypted_and_durably_and_issues_real_tokens(bare_app, tmp_path):
    token = round_trip(bare_app.create_app(required_work=True))
    claims = tokens.verify(token, KeyRing(tmp_path / "private", "s" * 48))
    blob = local_blob(tmp_path / "files", claims.storage_name)
    assert len(blob) > len(PAYLOAD) and PAYLOAD[:64] not in blob
    assert local_state(tmp_path / "files", claims.storage_name)["exp"] > claims.created_at
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), KeyRing(tmp_path / "private", "s" * 48))
