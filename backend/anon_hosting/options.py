"""Upload options as clients send them (strings), checked and bounded.

Contract: ``parse(raw, default_expires_in, max_expires_in) -> Options`` reads
from a mapping of strings ``expires_in`` (seconds, a positive whole number;
missing or empty means the default, more than the maximum means the maximum),
``max_downloads`` (1 to ``MAX_DOWNLOADS``; missing or empty means unlimited) and
``passphrase`` (at most ``MAX_PASSPHRASE_BYTES`` of UTF-8; missing or empty means
none). ``passphrase(raw)`` checks a passphrase sent to unlock a file the same
way. Anything else raises ``BadRequest`` with a message meant for the person.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from .crypto.passphrase import MAX_PASSPHRASE_BYTES
from .errors import BadRequest

MAX_DOWNLOADS = 1000


@dataclass(frozen=True)
class Options:
    expires_in: int
    max_downloads: int | None
    passphrase: str | None


def parse(raw: Mapping[str, str], default_expires_in: int, max_expires_in: int) -> Options:
    expires_in = raw.get("expires_in")
    expires_in = (default_expires_in if not expires_in
                  else min(_positive_int(expires_in, "expires_in"), max_expires_in))
    return Options(expires_in, _max_downloads(raw.get("max_downloads")), passphrase(raw.get("passphrase")))


def passphrase(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if len(raw.encode()) > MAX_PASSPHRASE_BYTES:
        raise BadRequest("The passphrase is too long.")
    return raw


def _max_downloads(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    value = _positive_int(raw, "max_downloads")
    if value > MAX_DOWNLOADS:
        raise BadRequest(f"max_downloads can be at most {MAX_DOWNLOADS}.")
    return value


def _positive_int(raw: str, field: str) -> int:
    if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
        raise BadRequest(f"{field} must be a positive whole number.")
    return int(raw)
