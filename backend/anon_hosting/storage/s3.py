"""S3 storage: ``<prefix><name>`` (blob) and ``<prefix><name>.state`` (JSON) per file, in one bucket.

Contract (see ``storage.Storage``). The blob's bytes go out first, as a multipart
upload of ``part_size`` parts, each sent while the next is read (``s3_parts``), so
memory stays at a few parts whatever the file's size; then the state is created
with ``If-None-Match: *``, then the upload is completed, also with
``If-None-Match: *`` (a file that fits in one part is one ``put_object`` instead).
Nothing is visible before completion, nothing is ever overwritten (but by ``adopt``,
a state whose blob never came: see there), and on any
error (the chunks raising, a closed generator, S3 refusing) the parts in flight
are waited for, the multipart upload is aborted and the state removed again.
Unfinished multipart uploads are S3's temp files: a writer killed mid-upload
leaves one, and ``sweep_temp`` aborts those idle for ``TEMP_MAX_IDLE`` seconds, except a
resumable upload's while its record (``partial_s3``) lives.

State updates are compare-and-swap: GET (ETag), ``mutate``, PUT with ``If-Match``,
retried after a short jittered pause when another writer came first (412, or 409
while S3 settles two racing writes). S3 checks the condition atomically, which
serialises every update of a name across processes and replicas. A PUT whose
answer was lost is retried by the client, meets its own ETag change and is
applied again: every lifecycle rule then errs on the safe side (a download
counted twice, never not at all). Only ``s3_client`` imports boto3.

Expiry: each file also has a marker in the expiry index (``s3_expiry``), written
first (by ``put``, and by ``update_state`` when the expiry moves), so a regular sweep
lists only the hours that have begun instead of every state.

``each`` runs ``THREADS`` calls at once, as ``put_many`` (a bundle's small files) and a bundle's join
do: each call is a few requests that mostly wait on S3. It returns or raises only once every one has ended.
"""

import json
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError, IncompleteReadError

from ..errors import InsufficientStorage, NotFound, StorageUnavailable
from . import NAME_PATTERN, Blob, R, State, Storage, T, check_name, s3_client
from .s3_expiry import ExpiryMarkers
from .s3_parts import Parts

PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part, except the last one
STATE_SUFFIX = ".state"
UPLOADS_FOLDER = "uploads/"  # resumable uploads' records (partial_s3), whose multipart uploads sweep_temp leaves
TEMP_MAX_IDLE = 3600  # seconds without a new part before an upload counts as abandoned
THREADS = 8  # calls of ``each`` at once, each on a connection of the client's pool (max_pool_connections 32)
UPDATE_TRIES = 12
LIST_PAGE_SIZE = 1000  # keys per listing request (S3's maximum)
BACKOFF_BASE, BACKOFF_CAP = 0.01, 0.5  # seconds
_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict"}
_MISSING = {"NoSuchKey", "NotFound", "404"}
_FULL = {"EntityTooLarge", "QuotaExceeded", "InsufficientStorage", "XMinioStorageFull",
         "XMinioAdminBucketQuotaExceeded"}


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, *,
                 part_size: int = PART_SIZE, client=None):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.bucket, self.prefix, self.part_size = bucket, prefix, part_size
        self.client = s3_client.Guarded(client or s3_client.make(endpoint_url))
        self._markers = ExpiryMarkers(self.client, bucket, prefix)

    def put(self, name: str, chunks: Iterable[bytes], state: State) -> int:
        blob_key, state_key = self._keys(name)
        parts = Parts(self.client, self.bucket, blob_key, self.part_size)
        try:
            self._markers.add(name, state["exp"])
            tail, size = parts.send(chunks)
            self._create(state_key, _encode(state))
            try:
                self._complete(parts, tail)
            except BaseException:
                self._quietly(self.client.delete_object, Bucket=self.bucket, Key=state_key)
                raise
        except BaseException as exc:
            parts.settle()
            if parts.upload_id is not None:
                self._quietly(self.client.abort_multipart_upload, Bucket=self.bucket, Key=blob_key,
                              UploadId=parts.upload_id)
            if _code(exc) in _FULL or _status(exc) == 507:
                raise InsufficientStorage() from exc
            raise
        return size

    def put_many(self, items: list[tuple[str, bytes, State]]) -> None:
        self.each(lambda item: self.put(item[0], [item[1]], item[2]), items)

    def each(self, call: Callable[[T], R], items: Iterable[T]) -> list[R]:
        with ThreadPoolExecutor(THREADS, thread_name_prefix="s3") as pool:
            done = [pool.submit(call, item) for item in items]
        return [future.result() for future in done]  # all have ended: the first error, if any, none in flight

    def adopt(self, name: str, upload: dict, state: State) -> None:
        """Complete ``upload`` ({"Key", "UploadId", "Parts"}, all of blob ``name``; or, with "UploadId" None,
        the whole blob in "Body") with its state, as put. A state without its blob is an adopt's that a
        killed process cut short: this one's replaces it."""
        blob_key, state_key = self._keys(name)
        self._markers.add(name, state["exp"])
        try:
            self._create(state_key, _encode(state))
        except FileExistsError:
            if self._exists(blob_key):
                raise
            self.client.put_object(Bucket=self.bucket, Key=state_key, Body=_encode(state))
        try:
            if upload["UploadId"] is None:
                self._create(blob_key, upload["Body"])
            else:
                self._finish(upload["Key"], upload["UploadId"], upload["Parts"])
        except BaseException:
            self._quietly(self.client.delete_object, Bucket=self.bucket, Key=state_key)
            raise

    def open(self, name: str) -> Blob:
        obj = self._get(self._keys(name)[0])
        return Blob(_Body(obj["Body"]), obj["ContentLength"])

    def read_state(self, name: str) -> State:
        return self._read_state(self._keys(name)[1])[0]

    def update_state(self, name: str, mutate: Callable[[State], State]) -> State:
        key = self._keys(name)[1]
        for attempt in range(UPDATE_TRIES):
            state, etag = self._read_state(key)
            new = mutate(state)  # raising here writes nothing
            if new["exp"] != state["exp"]:
                self._markers.add(name, new["exp"])  # first, as for a put: a new expiry is swept at its hour
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=_encode(new), IfMatch=etag)
                return new
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise NotFound() from None
                if _code(exc) not in _CONFLICT:
                    raise
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)))  # noqa: S311 - jitter  # nosec B311
        raise StorageUnavailable("This file is very busy right now. Please try again in a moment.")

    def delete(self, name: str) -> bool:
        blob_key, state_key = self._keys(name)
        existed = self._exists(state_key)
        self.client.delete_object(Bucket=self.bucket, Key=state_key)
        self.client.delete_object(Bucket=self.bucket, Key=blob_key)
        return existed

    def delete_blob(self, name: str) -> bool:
        blob_key = self._keys(name)[0]
        existed = self._exists(blob_key)
        self.client.delete_object(Bucket=self.bucket, Key=blob_key)
        return existed

    def names(self) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE})
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"][len(self.prefix):].removesuffix(STATE_SUFFIX)
                if obj["Key"].endswith(STATE_SUFFIX) and NAME_PATTERN.fullmatch(name):
                    yield name

    def expired(self, now: float) -> Iterator[str]:
        """Files whose marker's hour has begun: yields those expired by ``now``, then drops their markers."""
        for name, marker in self._markers.due(now):
            if not NAME_PATTERN.fullmatch(name):
                continue
            try:
                state = self.read_state(name)
            except NotFound:  # deleted by its owner, or a put that never finished
                self._markers.remove(marker)
                continue
            if state["exp"] <= now:
                yield name  # the caller deletes it before asking for the next
                self._markers.remove(marker)
            elif not self._markers.is_for(marker, state["exp"]):  # a put that lost its name to another
                self._markers.remove(marker)

    def ping(self) -> None:
        key = f"{self.prefix}.ping-{secrets.token_hex(8)}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable() from exc

    def sweep_temp(self, now: float | None = None) -> int:
        """Abort the multipart uploads of our blobs that have not grown for TEMP_MAX_IDLE seconds."""
        now = time.time() if now is None else now
        aborted = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for upload in (u for page in pages for u in page.get("Uploads", [])):
            name = upload["Key"][len(self.prefix):]
            if not NAME_PATTERN.fullmatch(name) or self._exists(f"{self.prefix}{UPLOADS_FOLDER}{name}.json"):
                continue  # not ours, or a resumable upload that its record's expiry governs
            if self._last_activity(upload) > now - TEMP_MAX_IDLE:
                continue
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted += 1
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":  # finished or aborted meanwhile
                    raise
        return aborted

    # -- helpers ---------------------------------------------------------------

    def _keys(self, name: str) -> tuple[str, str]:
        blob_key = self.prefix + check_name(name)
        return blob_key, blob_key + STATE_SUFFIX

    def _complete(self, parts: Parts, tail: bytearray) -> None:
        if parts.upload_id is None:
            self._create(parts.key, bytes(tail))
            return
        self._finish(parts.key, parts.upload_id, parts.last(tail))

    def _finish(self, key: str, upload_id: str, done: list[dict]) -> None:
        try:
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": done}, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in _CONFLICT:
                raise FileExistsError(key) from None
            raise

    def _create(self, key: str, body: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in _CONFLICT:
                raise FileExistsError(key) from None
            raise

    def _get(self, key: str) -> dict:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise NotFound() from None
            raise

    def _read_state(self, key: str) -> tuple[State, str]:
        obj = self._get(key)
        with obj["Body"] as body:
            return json.loads(body.read()), obj["ETag"]

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        return True

    def _last_activity(self, upload: dict) -> float:
        latest = upload["Initiated"].timestamp()
        pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=upload["Key"],
                                                                 UploadId=upload["UploadId"])
        for part in (p for page in pages for p in page.get("Parts", [])):
            latest = max(latest, part["LastModified"].timestamp())
        return latest

    @staticmethod
    def _quietly(call, **kwargs) -> None:
        """Clean-up after a failure: never hide the original error (the sweeper retries what fails here)."""
        try:  # noqa: SIM105 - kept explicit beside the reason below
            call(**kwargs)
        except Exception:  # noqa: BLE001, S110 - best effort, the sweeper retries  # nosec B110
            pass


class _Body:
    """An S3 GET body that reads exactly ``n`` bytes unless the object ends first, like a file."""

    def __init__(self, body):
        self._body = body

    def read(self, n: int) -> bytes:
        try:
            data = self._body.read(n)
            while 0 < len(data) < n:
                more = self._body.read(n - len(data))
                if not more:
                    break
                data += more
        except (*s3_client.UNREACHABLE, IncompleteReadError, OSError) as exc:  # the store went away mid-download
            raise StorageUnavailable() from exc
        return data

    def close(self) -> None:
        self._body.close()


def _encode(state: State) -> bytes:
    return json.dumps(state, separators=(",", ":"), sort_keys=True).encode()


def _code(exc: BaseException) -> str | None:
    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def _status(exc: BaseException) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, ClientError) else None
