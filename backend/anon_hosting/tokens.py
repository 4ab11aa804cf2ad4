"""Tokens: compact JWE (alg dir, enc A256GCM, kid) carrying a file's secrets.

Contract: ``issue(claims, keyring)`` returns a compact JWE string;
``verify(token, keyring)`` returns the ``FileClaims`` (download token) or
``OwnerClaims`` (owner token) inside, or raises the one opaque ``InvalidToken``.
Nothing is parsed before the cheap shape checks (length, compact form with an
empty key part, canonical base64url in every part, exact protected header), so
one token has exactly one spelling, and jwcrypto only
ever sees the single key named by ``kid`` with ``algs`` pinned, so PBES2, zip,
JWS and "try every key" paths cannot be reached. Expiry is the caller's rule:
``verify`` returns ``expires_at`` and does not compare it with the clock.

Claim names are one letter to keep a token (and its QR code) short:
``v`` format version, ``n`` original file name, ``s`` storage name (43 chars
base64url = 256 bits), ``k`` file key (base64url, 32 bytes; 48 bytes when it is
wrapped with a passphrase), ``p`` the passphrase's scrypt salt (16 bytes, only
on protected files), ``iat``, ``exp``. An owner token is ``{"v", "t": "o", "s",
"iat", "exp"}``: it names the file but holds no key, so it can delete but never
read; a download token cannot delete. A bundle's download token is ``{"v", "t": "b", "s", "k", "iat",
"exp"}`` (plus ``p``): ``s`` and ``k`` name and open its manifest, so its length does not grow with the files;
its owner token adds ``"b": 1``.
"""

import json
import re
from dataclasses import dataclass

from jwcrypto import jwe
from jwcrypto.common import base64url_decode, base64url_encode

from . import jwe_registry
from .errors import InvalidToken
from .keys import ALGS, KeyRing

jwe_registry.install()

VERSION = 1
MAX_TOKEN_LENGTH = 4096
MAX_NAME_LENGTH = 1024
STORAGE_NAME = re.compile(r"[A-Za-z0-9_-]{43}")
_COMPACT = re.compile(r"([A-Za-z0-9_-]{1,200})\.\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})")
_KID = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class FileClaims:
    name: str
    storage_name: str
    file_key: bytes  # wrapped (48 bytes) when passphrase_salt is set
    created_at: int
    expires_at: int | None
    passphrase_salt: bytes | None = None


@dataclass(frozen=True)
class BundleClaims:
    storage_name: str  # the manifest's
    file_key: bytes  # the manifest's key, wrapped (48 bytes) when passphrase_salt is set
    created_at: int
    expires_at: int | None
    passphrase_salt: bytes | None = None


@dataclass(frozen=True)
class OwnerClaims:
    storage_name: str
    created_at: int
    expires_at: int | None
    bundle: bool = False  # the name is a bundle's manifest: its files' blobs go with it


def issue(claims: FileClaims | BundleClaims | OwnerClaims, keyring: KeyRing) -> str:
    kid, key = keyring.active()
    if isinstance(claims, OwnerClaims):
        body = {"v": VERSION, "t": "o", "s": claims.storage_name, "iat": claims.created_at,
                **({"b": 1} if claims.bundle else {})}
    else:
        kind = {"t": "b"} if isinstance(claims, BundleClaims) else {"n": claims.name}
        body = {"v": VERSION, **kind, "s": claims.storage_name,
                "k": base64url_encode(claims.file_key), "iat": claims.created_at}
        if claims.passphrase_salt is not None:
            body["p"] = base64url_encode(claims.passphrase_salt)
    if claims.expires_at is not None:
        body["exp"] = claims.expires_at
    header = {"alg": "dir", "enc": "A256GCM", "kid": kid}
    token = jwe.JWE(_compact_json(body).encode(), protected=_compact_json(header))
    token.add_recipient(key)
    return token.serialize(compact=True)


def verify(token: object, keyring: KeyRing) -> FileClaims | BundleClaims | OwnerClaims:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken()
    match = _COMPACT.fullmatch(token.strip())
    if match is None or not all(_canonical(part) for part in match.groups()):
        raise InvalidToken()
    key = keyring.get(_kid(match.group(1)))
    if key is None:
        raise InvalidToken()
    try:
        parsed = jwe.JWE(algs=ALGS)
        parsed.deserialize(match.group(0), key=key)
        body = json.loads(parsed.payload)
    except Exception:  # noqa: BLE001 - jwcrypto raises many types; to a client they all mean one thing
        raise InvalidToken() from None
    return _claims(body)


def _canonical(part: str) -> bool:
    """True when ``part`` is the one base64url spelling of its bytes: the unused low bits of its last
    character are zero (base64url_decode ignores them, so a flipped one would otherwise still verify)."""
    try:
        return base64url_encode(base64url_decode(part)) == part
    except ValueError:
        return False


def _kid(encoded_header: str) -> str:
    try:
        header = json.loads(base64url_decode(encoded_header))
    except ValueError:
        raise InvalidToken() from None
    if (not isinstance(header, dict) or set(header) != {"alg", "enc", "kid"}
            or header["alg"] != "dir" or header["enc"] != "A256GCM"
            or not isinstance(header["kid"], str) or not _KID.fullmatch(header["kid"])):
        raise InvalidToken()
    return header["kid"]


def _claims(body: object) -> FileClaims | BundleClaims | OwnerClaims:
    if not isinstance(body, dict) or body.get("v") != VERSION or type(body.get("v")) is not int:
        raise InvalidToken()
    storage, iat, exp = body.get("s"), body.get("iat"), body.get("exp")
    if (not isinstance(storage, str) or not STORAGE_NAME.fullmatch(storage)
            or type(iat) is not int or (exp is not None and type(exp) is not int)):
        raise InvalidToken()
    if body.get("t") == "o":
        if set(body) - {"v", "t", "s", "iat", "exp", "b"} or ("b" in body and _not_one(body["b"])):
            raise InvalidToken()
        return OwnerClaims(storage, iat, exp, "b" in body)
    salt = body.get("p")
    salt = None if salt is None else _b64_bytes(salt, 16)
    file_key = _b64_bytes(body.get("k"), 32 if salt is None else 48)
    if body.get("t") == "b":
        if set(body) - {"v", "t", "s", "k", "p", "iat", "exp"}:
            raise InvalidToken()
        return BundleClaims(storage, file_key, iat, exp, salt)
    name = body.get("n")
    if "t" in body or not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        raise InvalidToken()
    return FileClaims(name, storage, file_key, iat, exp, salt)


def _not_one(value: object) -> bool:
    return type(value) is not int or value != 1


def _b64_bytes(value: object, size: int) -> bytes:
    if not isinstance(value, str) or len(value) != -(-size * 4 // 3):
        raise InvalidToken()
    try:
        raw = base64url_decode(value)
    except ValueError:
        raise InvalidToken() from None
    if len(raw) != size:
        raise InvalidToken()
    return raw


def _compact_json(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
