"""The S3 backend's boto3 client: built from the environment, and guarded so that an outage is one error.

Contract. ``make(endpoint_url)`` builds the client (credentials and region from
boto3's usual sources: AWS_* variables, instance roles). ``Guarded(client)``
forwards every attribute to ``client``; its API calls raise ``StorageUnavailable``
(chained to the cause) when the store cannot be reached or answers 5xx, so every
route answers ``503 storage_unavailable`` during an outage instead of a 500 whose
log names an object key. Other client errors (a missing key, a failed condition,
a full quota) pass unchanged: the backend's logic reads them. Paginators are
returned as they are.
"""

import functools

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, NoCredentialsError

from ..errors import StorageUnavailable

UNREACHABLE = (ConnectionError, HTTPClientError, NoCredentialsError)
_SERVER_ERRORS = {500, 502, 503, 504}


def make(endpoint_url: str | None):
    config = Config(s3={"addressing_style": "path"} if endpoint_url else {},
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=5, read_timeout=60, max_pool_connections=32)
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


class Guarded:
    def __init__(self, client):
        self._client = client

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if name.startswith("_") or name in ("meta", "get_paginator", "exceptions") or not callable(attr):
            return attr
        return _guard(attr)


def _guard(call):
    @functools.wraps(call)
    def guarded(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except UNREACHABLE as exc:
            raise StorageUnavailable() from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if status in _SERVER_ERRORS and code != "InsufficientStorage":
                raise StorageUnavailable() from exc
            raise
    return guarded
