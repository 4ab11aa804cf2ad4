"""Unfinished uploads on S3: a multipart upload of the future blob, ``uploads/<id>.json`` and a lease object.

Contract (see ``storage.partials``). The data is a multipart upload on the blob's
own key, so finishing is S3's CompleteMultipartUpload (``S3Storage.adopt``) and
never a copy. It is created with the first part, and its id written to the record
before that part is sent; a blob that never fills a part (a small file) is put whole
at the finish, with no multipart upload. Every part but the last holds ``UNITS_PER_PART``
whole units (the first the header too). The whole units that do not fill a part yet are put,
at ``sync``, as ``uploads/<id>.tail`` (ciphertext too), tagged with the number of
parts they follow, so ``committed`` is the parts S3 lists times that plus the
units of a tail that follows them: whatever S3 acknowledged is durable, and a
tail that a newer part has overtaken no longer counts. The lease is ``uploads/<id>.lease``, created with
``If-None-Match: *`` and renewed with ``If-Match`` before each part and every
``LEASE_TTL / 3`` seconds; a lease not renewed for ``LEASE_TTL`` (a killed
worker's) may be taken over, on any replica. A writer that finds its lease taken
stops with ``Locked`` before it sends another part. The blob's key exists only
once CompleteMultipartUpload (or the whole blob's PUT) succeeded, so it marks the upload ``stored``.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from ..errors import Locked, NotFound
from . import NAME_PATTERN, State, check_name
from .partials import Layout, Partials, Writer
from .s3 import _CONFLICT, _MISSING, UPLOADS_FOLDER, S3Storage, _code

UNITS_PER_PART = 8  # 8 MiB of plaintext per part: S3's 5 MiB minimum, with room to spare
LEASE_TTL = 30.0  # seconds
DROP_WAIT = 5.0  # seconds a drop waits for a writer that is finishing its request
_POLL = 0.2


class S3Partials(Partials):
    def __init__(self, storage: S3Storage):
        self.storage, self.client, self.bucket = storage, storage.client, storage.bucket
        self.root = storage.prefix + UPLOADS_FOLDER

    def create(self, upload_id: str, record: dict) -> None:
        self.storage._create(self._key(upload_id, "json"), _encode({**record, "s3": None}))  # noqa: SLF001

    def record(self, upload_id: str) -> dict:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(upload_id, "json"))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise NotFound() from None
            raise
        with obj["Body"] as body:
            return json.loads(body.read())

    def save(self, upload_id: str, record: dict) -> None:
        if record.get("done") is None and record.get("s3") is None:
            # A copy read before a writer started the multipart upload: keep the id that writer stored.
            record = {**record, "s3": self.record(upload_id)["s3"]}
        self._put_record(upload_id, record)

    def _started(self, upload_id: str, s3_upload: str) -> None:
        """Write the new multipart upload's id to the record (under the lease), before its first part."""
        self._put_record(upload_id, {**self.record(upload_id), "s3": s3_upload})

    def _put_record(self, upload_id: str, record: dict) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(upload_id, "json"), Body=_encode(record))

    @contextmanager
    def writer(self, upload_id: str, layout: Layout) -> Iterator[Writer]:
        lease = _Lease(self, upload_id)
        lease.take(wait=0)
        try:
            yield _S3Writer(self, upload_id, self.record(upload_id)["s3"], layout, lease)
        finally:
            lease.release()

    def committed(self, upload_id: str, layout: Layout) -> int:
        parts = _whole_parts(self, upload_id, self.record(upload_id)["s3"], layout)
        return len(parts) * UNITS_PER_PART + len(_tail(self, upload_id, len(parts), layout)) // layout.unit

    def stored(self, upload_id: str) -> State | None:
        if not self.storage._exists(self.storage.prefix + check_name(upload_id)):  # noqa: SLF001
            return None  # its state, created first, may be there without it: a finish cut before completing
        try:
            return self.storage.read_state(upload_id)
        except NotFound:  # deleted meanwhile
            return None

    def discard(self, upload_id: str) -> None:
        self.storage._quietly(self.client.delete_object, Bucket=self.bucket,  # noqa: SLF001
                              Key=self._key(upload_id, "tail"))

    def drop(self, upload_id: str, wait: float = DROP_WAIT) -> bool:
        try:
            record = self.record(upload_id)
        except NotFound:
            return False
        lease = _Lease(self, upload_id)
        lease.take(wait)
        try:
            if record["s3"] is not None:
                self.storage._quietly(self.client.abort_multipart_upload, Bucket=self.bucket,  # noqa: SLF001
                                      Key=self.storage.prefix + upload_id, UploadId=record["s3"])
            self.client.delete_object(Bucket=self.bucket, Key=self._key(upload_id, "tail"))
            self.client.delete_object(Bucket=self.bucket, Key=self._key(upload_id, "json"))
        finally:
            lease.release()
        return True

    def ids(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.root)
        for obj in (o for page in pages for o in page.get("Contents", [])):
            name = obj["Key"][len(self.root):]
            if name.endswith(".json") and NAME_PATTERN.fullmatch(name[:-5]):
                yield name[:-5]

    def _key(self, upload_id: str, suffix: str) -> str:
        return f"{self.root}{check_name(upload_id)}.{suffix}"


class _Lease:
    def __init__(self, partials: S3Partials, upload_id: str):
        self._p, self._key, self._etag, self.renewed = partials, partials._key(upload_id, "lease"), None, 0.0

    def take(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while not self._try_take():
            if time.monotonic() >= deadline:
                raise Locked()
            time.sleep(_POLL)

    def _try_take(self) -> bool:
        try:
            self._put(IfNoneMatch="*")
            return True
        except ClientError as exc:
            if _code(exc) not in _CONFLICT:
                raise
        try:
            obj = self._p.client.get_object(Bucket=self._p.bucket, Key=self._key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False  # released meanwhile: the next try creates it
            raise
        with obj["Body"] as body:
            if json.loads(body.read())["until"] > time.time():
                return False
        try:
            self._put(IfMatch=obj["ETag"])  # a dead writer's lease: take it over, unless another came first
            return True
        except ClientError as exc:
            if _code(exc) in _CONFLICT or _code(exc) in _MISSING:
                return False
            raise

    def renew(self) -> None:
        try:
            self._put(IfMatch=self._etag)
        except ClientError as exc:
            if _code(exc) in _CONFLICT or _code(exc) in _MISSING:
                self._etag = None
                raise Locked() from None
            raise

    def release(self) -> None:
        if self._etag is not None:
            self._p.storage._quietly(self._p.client.delete_object, Bucket=self._p.bucket, Key=self._key)  # noqa: SLF001
            self._etag = None

    def _put(self, **condition) -> None:
        body = json.dumps({"until": time.time() + LEASE_TTL}).encode()
        answer = self._p.client.put_object(Bucket=self._p.bucket, Key=self._key, Body=body, **condition)
        self._etag, self.renewed = answer["ETag"], time.monotonic()


class _S3Writer(Writer):

    def __init__(self, partials: S3Partials, upload_id: str, s3_upload: str, layout: Layout, lease: _Lease):
        self._p, self._id, self._layout, self._lease = partials, upload_id, layout, lease
        parts = _whole_parts(partials, upload_id, s3_upload, layout)
        self._upload = {"Key": partials.storage.prefix + upload_id, "UploadId": s3_upload, "Parts": parts}
        self._tail_key = partials._key(upload_id, "tail")
        self._tail = bytearray(_tail(partials, upload_id, len(parts), layout, read=True))
        self._stored_tail = len(self._tail)
        self.committed = self._units()

    def append(self, data: bytes) -> None:
        self._tail += data
        if time.monotonic() - self._lease.renewed > LEASE_TTL / 3:
            self._lease.renew()
        part_bytes = self._part_bytes()
        while len(self._tail) >= part_bytes:
            with memoryview(self._tail) as view:
                part = bytes(view[:part_bytes])
            del self._tail[:part_bytes]
            self._send(part)
            part_bytes = self._part_bytes()

    def sync(self) -> int:
        whole = self._tail_bytes()
        if whole and whole != self._stored_tail:
            self._lease.renew()
            self._p.client.put_object(Bucket=self._p.bucket, Key=self._tail_key, Body=bytes(self._tail[:whole]),
                                      Metadata={"parts": str(len(self._upload["Parts"]))})
            self._stored_tail = whole
        self.committed = self._units()
        return self.committed

    def finish(self, storage_name: str, state: State, last: bytes) -> None:
        self._tail += last
        if self._upload["UploadId"] is None:  # no part was sent: the whole blob goes in one PUT
            self._lease.renew()
            self._p.storage.adopt(storage_name, {**self._upload, "Body": bytes(self._tail)}, state)
        else:
            self._send(bytes(self._tail))
            self._p.storage.adopt(storage_name, self._upload, state)
        self._p.discard(self._id)

    def _part_bytes(self) -> int:
        return _part_bytes(self._layout, len(self._upload["Parts"]) + 1)

    def _send(self, data: bytes) -> None:
        self._lease.renew()
        upload, client = self._upload, self._p.client
        if upload["UploadId"] is None:
            upload["UploadId"] = client.create_multipart_upload(Bucket=self._p.bucket, Key=upload["Key"])["UploadId"]
            self._p._started(self._id, upload["UploadId"])  # noqa: SLF001
        number = len(upload["Parts"]) + 1
        answer = client.upload_part(Bucket=self._p.bucket, Key=upload["Key"], UploadId=upload["UploadId"],
                                    PartNumber=number, Body=data)
        upload["Parts"].append({"PartNumber": number, "ETag": answer["ETag"]})
        self._stored_tail = 0  # the stored tail, if any, now follows fewer parts than there are
        self.committed = self._units()

    def _tail_bytes(self) -> int:
        """The bytes of whole units in the buffered tail (the first part's header with its first unit)."""
        header = self._layout.header if not self._upload["Parts"] else 0
        units = max(0, (len(self._tail) - header) // self._layout.unit)
        return header + units * self._layout.unit if units else 0

    def _units(self) -> int:
        return len(self._upload["Parts"]) * UNITS_PER_PART + self._stored_units()

    def _stored_units(self) -> int:
        header = self._layout.header if not self._upload["Parts"] else 0
        return max(0, (self._stored_tail - header) // self._layout.unit)


def _part_bytes(layout: Layout, number: int) -> int:
    return (layout.header if number == 1 else 0) + UNITS_PER_PART * layout.unit


def _whole_parts(partials: S3Partials, upload_id: str, s3_upload: str, layout: Layout) -> list[dict]:
    """The gapless run of whole parts from part 1, up to ``layout.max_units``: what is committed."""
    if s3_upload is None:
        return []
    pages = partials.client.get_paginator("list_parts").paginate(
        Bucket=partials.bucket, Key=partials.storage.prefix + check_name(upload_id), UploadId=s3_upload)
    whole = []
    for part in sorted((p for page in pages for p in page.get("Parts", [])), key=lambda p: p["PartNumber"]):
        number = len(whole) + 1
        if (part["PartNumber"] != number or part["Size"] != _part_bytes(layout, number)
                or number * UNITS_PER_PART > layout.max_units):
            break
        whole.append({"PartNumber": number, "ETag": part["ETag"]})
    return whole


def _tail(partials: S3Partials, upload_id: str, parts: int, layout: Layout, read: bool = False) -> bytes:
    """The stored tail if it follows exactly ``parts`` parts and holds whole units (``read``: its bytes;
    otherwise placeholder bytes of its length, from a HEAD request), else nothing."""
    key, call = partials._key(upload_id, "tail"), partials.client.get_object if read else partials.client.head_object
    try:
        obj = call(Bucket=partials.bucket, Key=key)
    except ClientError as exc:
        if _code(exc) in _MISSING:
            return b""
        raise
    header = layout.header if parts == 0 else 0
    size = obj["ContentLength"]
    if obj.get("Metadata", {}).get("parts") != str(parts) or size <= header or (size - header) % layout.unit:
        return b""
    if not read:
        return bytes(size - header)
    with obj["Body"] as body:
        return body.read()


def _encode(record: dict) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()
