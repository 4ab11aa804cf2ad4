"""The one multipart/form-data generator of the tests and benchmarks: a body made as it is sent.

Contract: ``MultipartBody(pieces, size, filename, fields, field_name)`` is the form fields (in
order), then one file part named ``field_name`` whose bytes are ``pieces()`` (an iterable of
bytes, ``size`` in all), then the closing boundary. It has a length, so an HTTP client sends a
Content-Length, and it iterates ``head``, the pieces and ``tail`` (both attributes, which a test
may replace). The file name is quoted as browsers do (``"``, CR and LF percent-encoded).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator


class MultipartBody:
    def __init__(self, pieces: Callable[[], Iterable[bytes]], size: int, filename: str,
                 fields: dict[str, str] | None = None, field_name: str = "file"):
        self.pieces, self.size = pieces, size
        self.boundary = "----anon-hosting-" + secrets.token_hex(12)
        head = "".join(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                       for name, value in (fields or {}).items())
        self.head = head.encode() + file_part_head(self.boundary, filename, field_name)
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        yield from self.pieces()
        yield self.tail


def file_part_head(boundary: str, filename: str, field_name: str = "file") -> bytes:
    """The boundary and headers of one file part (a bundle's body has several)."""
    quoted = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
