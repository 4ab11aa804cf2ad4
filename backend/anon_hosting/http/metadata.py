"""tus's Upload-Metadata: comma-separated ``key base64value`` pairs, read by one parser.

Contract: ``parse(raw)`` answers the known keys (``KEYS``) with their values decoded, ignoring other
keys (a client's ``filetype``), and raises ``BadRequest`` for a header over ``MAX_CHARS``, not ASCII, or
a known key's value that is not base64 of UTF-8. ``declares_member(raw)`` says whether ``parse`` would
find ``MEMBER_KEY`` (a bundle member's creation) without decoding anything, so the rate limit, which
runs first, and the creation agree on which allowance a request draws on.
"""

import base64
import binascii
from collections.abc import Iterator

from ..errors import BadRequest
from ..resumable import MEMBER_KEY

KEYS = ("filename", "expires_in", "max_downloads", "passphrase", MEMBER_KEY)
MAX_CHARS = 4096


def parse(raw: str) -> dict[str, str]:
    if len(raw) > MAX_CHARS or not raw.isascii():
        raise BadRequest("Upload-Metadata is too long or not ASCII.")
    fields = {}
    for key, value in _pairs(raw):
        if key not in KEYS:
            continue
        try:
            fields[key] = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, ValueError):
            raise BadRequest(f"Upload-Metadata's {key} must be base64 of UTF-8 text.") from None
    return fields


def declares_member(raw: str) -> bool:
    return any(key == MEMBER_KEY for key, _ in _pairs(raw))


def _pairs(raw: str) -> Iterator[tuple[str, str]]:
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        yield key, value
