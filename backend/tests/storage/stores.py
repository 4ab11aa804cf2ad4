"""What a storage test can see of a store beyond the interface: its objects, and writers' leftovers.

``entries(store)``: every blob and state it holds, by name relative to its folder
or prefix (local lock files left out: they are an implementation detail).
``unfinished(store)``: local temp files, or S3 multipart uploads not completed.
``reopen(store)``: an independent store on the same data, as another process or
replica has (a new boto3 client; never share one across a fork).
"""

import os

from anon_hosting.storage.local import LOCK_SUFFIX, TEMP_PREFIX, LocalStorage
from anon_hosting.storage.s3 import S3Storage

STATE = {"v": 1, "exp": 2_000_000_000}


def files(*names: str) -> list[str]:
    return sorted(list(names) + [n + ".state" for n in names])


def entries(store) -> list[str]:
    if isinstance(store, LocalStorage):
        return sorted(p for p in os.listdir(store.root) if not p.endswith(LOCK_SUFFIX))
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.prefix)
    return sorted(obj["Key"][len(store.prefix):] for page in pages for obj in page.get("Contents", []))


def unfinished(store) -> list[str]:
    if isinstance(store, LocalStorage):
        return [p for p in os.listdir(store.root) if p.startswith(TEMP_PREFIX)]
    answer = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def reopen(store):
    if isinstance(store, LocalStorage):
        return LocalStorage(store.root)
    again = S3Storage(store.bucket, store.prefix, client=store.server.client(), part_size=store.part_size)
    again.server = store.server
    return again


def read_all(blob) -> bytes:
    parts = []
    while piece := blob.read(1 << 20):
        parts.append(piece)
    blob.close()
    return b"".join(parts)
