"""The parts of one S3 multipart upload, each sent while the next one is read.

Contract. ``Parts(client, bucket, key, part_size).send(chunks)`` cuts the blob's bytes
into ``part_size`` parts and hands each full one to a thread of its own, so reading and
encrypting the next part overlaps sending this one. Once ``IN_FLIGHT`` parts are in flight,
the next waits for the oldest, so an upload holds at most ``IN_FLIGHT`` parts plus the one
filling, whatever the file's size; a part that failed raises at that wait. ``send`` returns
the bytes left over (less than a part) and the size; ``last(tail)`` sends those as the final
part and returns the part list for CompleteMultipartUpload. ``upload_id`` is None until the
first full part, which creates the multipart upload. ``settle()`` waits for every part still
in flight, ignoring their errors, so that an abort comes after them and no part lands after it.
"""

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

IN_FLIGHT = 2  # parts sent at once: boto3's own transfers send 10; two already keep one stream of chunks busy


class Parts:
    def __init__(self, client, bucket: str, key: str, part_size: int):
        self.client, self.bucket, self.key, self.part_size = client, bucket, key, part_size
        self.upload_id: str | None = None
        self._done: list[dict] = []
        self._pending: deque[Future] = deque()
        self._pool: ThreadPoolExecutor | None = None

    def send(self, chunks: Iterable[bytes]) -> tuple[bytearray, int]:
        tail, size = bytearray(), 0
        for chunk in chunks:
            tail += chunk
            size += len(chunk)
            while len(tail) >= self.part_size:
                with memoryview(tail) as view:
                    part = bytes(view[:self.part_size])  # one copy, not two
                del tail[:self.part_size]
                self._submit(part)
        return tail, size

    def last(self, tail: bytearray) -> list[dict]:
        if tail:
            self._submit(bytes(tail))
        while self._pending:
            self._done.append(self._pending.popleft().result())
        self._close()
        return self._done

    def settle(self) -> None:
        for future in self._pending:
            future.exception()  # waits; the error that mattered was raised already, or the caller's is on its way
        self._pending.clear()
        self._close()

    def _submit(self, data: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
            self._pool = ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="s3-part")
        while len(self._pending) >= IN_FLIGHT:
            self._done.append(self._pending.popleft().result())
        number = len(self._done) + len(self._pending) + 1
        self._pending.append(self._pool.submit(self._upload, number, data))

    def _upload(self, number: int, data: bytes) -> dict:
        answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                         PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
