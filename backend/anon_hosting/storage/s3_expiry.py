"""The S3 backend's expiry index: an empty marker object per file, ``<prefix>expiry/<hour>/<name>``.

Contract. ``<hour>`` is the UTC hour of the file's expiry (``YYYYMMDDHH``, so keys
sort by time). ``add(name, exp)`` writes a file's marker before anything else of
the file, so a crash leaves at most a marker without a file, never a file
without its marker. ``due(now)`` yields ``(name, marker key)`` for every marker in
an hour that has begun by ``now``: one listing of the hours, plus one listing per
1,000 markers in those hours, whatever the number of files stored. ``remove(key)``
deletes a marker. A marker that goes missing anyway (deleted by hand, a lost
request) is covered by the service's daily full sweep, which reads every state.
"""

import time
from collections.abc import Iterator

FOLDER = "expiry/"


class ExpiryMarkers:
    def __init__(self, client, bucket: str, prefix: str):
        self.client, self.bucket, self.root = client, bucket, prefix + FOLDER

    def add(self, name: str, exp: float) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.root}{hour(exp)}/{name}", Body=b"")

    def due(self, now: float) -> Iterator[tuple[str, str]]:
        last = hour(now)
        for folder in self._list(self.root, delimiter="/"):
            if folder[len(self.root):-1] > last:
                return  # listings are in key order: every later hour is still to come
            for key in self._list(folder):
                yield key[len(folder):], key

    def is_for(self, key: str, exp: float) -> bool:
        """Whether ``key`` is the marker of a file expiring at ``exp``."""
        return key.startswith(f"{self.root}{hour(exp)}/")

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _list(self, prefix: str, delimiter: str = "") -> Iterator[str]:
        """Keys under ``prefix`` in order; with a delimiter, the folders (common prefixes) instead."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter=delimiter)
        for page in pages:
            if delimiter:
                yield from (p["Prefix"] for p in page.get("CommonPrefixes", []))
            else:
                yield from (obj["Key"] for obj in page.get("Contents", []))


def hour(timestamp: float) -> str:
    return time.strftime("%Y%m%d%H", time.gmtime(timestamp))
