"""Stores for the storage tests: ``store`` is each backend in turn (local folder, S3 bucket), empty.

The S3 stores share one fresh bucket per test module, each under its own random
prefix, on the session's S3 server (see tests/s3server.py); their parts are
S3's minimum size, so multipart uploads stay small. ``reopen(store)`` gives an
independent store on the same data, as another process or replica would have.
"""

import secrets

import pytest

from anon_hosting.storage.local import LocalStorage
from anon_hosting.storage.s3 import MIN_PART_SIZE, S3Storage


@pytest.fixture(scope="module")
def s3_bucket(s3_server):
    return s3_server.new_bucket()


@pytest.fixture
def s3_store(s3_server, s3_bucket):
    store = S3Storage(s3_bucket, f"t-{secrets.token_hex(6)}/", client=s3_server.client(), part_size=MIN_PART_SIZE)
    store.server = s3_server  # for reopen() and for tests that need atomic conditional writes
    return store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return request.getfixturevalue("s3_store")
