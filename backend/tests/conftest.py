"""Shared fixtures: an app built by the factory on temporary folders, its client and parts."""

import pytest

from anon_hosting import create_app

from .s3server import s3_server  # noqa: F401 - session fixture: one S3 server process for every test that asks


@pytest.fixture
def app_config(tmp_path):
    return {
        "SECRET_KEY": "test-secret-key-for-unit-tests-only-0123456789",
        "ENCRYPTED_FILE_STORAGE": str(tmp_path / "files"),
        "PRIVATE_FOLDER": str(tmp_path / "private"),
        "MAX_UPLOAD_BYTES": str(3 * 1024 * 1024),
    }


@pytest.fixture
def app(app_config):
    return create_app(app_config)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def service(app):
    return app.extensions["anon_hosting"]


@pytest.fixture
def storage_dir(tmp_path):
    return tmp_path / "files"
