"""The plain values the service takes and returns: its limits, and what an upload, info and retrieve answer.

Contract: frozen dataclasses (``Download`` carries the open stream and its ``close``), with no
behaviour, so the HTTP layer, the bundles and the resumable uploads share one shape per answer.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    default_expires_in: int
    max_expires_in: int
    max_bundle_files: int = 1000


@dataclass(frozen=True)
class Uploaded:
    token: str
    owner_token: str
    name: str
    size: int
    expires_at: str | None
    max_downloads: int | None
    passphrase: bool
    kind: str = "file"


@dataclass(frozen=True)
class MemberUploaded:
    """A bundle member's finished upload: no token; its file waits for the join until ``expires_at``."""
    name: str
    size: int
    expires_at: str | None
    kind: str = "member"


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    created_at: str
    expires_at: str | None
    downloads_left: int | None
    downloads_in_progress: int
    kind: str = "file"


@dataclass
class Download:
    name: str
    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None]
    content_type: str = "application/octet-stream"
