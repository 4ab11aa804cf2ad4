"""Keys derived from a resumable upload's client-held secret: wrapping, sealing and a verifier.

Contract: ``UploadKeys(secret, upload_id)`` derives, with HKDF-SHA256 salted with
the upload id, a 256-bit wrapping key and a verifier (the SHA-256 of a second
derived key: a hash, never the secret). ``seal(purpose, plaintext)`` and
``open(purpose, sealed)`` are AES-256-GCM under the wrapping key with a random
96-bit nonce and ``purpose`` bound as associated data, so a sealed file key can
never be opened as sealed options; ``open`` raises ``WrongSecret`` on any
mismatch. ``matches(verifier)`` compares in constant time. The secret itself is
never stored: without it, what is sealed opens to nothing.
"""

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_BYTES, MAX_SECRET_BYTES = 32, 64
NONCE_SIZE = 12
_WRAP_INFO = b"anon-hosting upload v1 wrap"
_VERIFY_INFO = b"anon-hosting upload v1 verify"


class WrongSecret(Exception):
    """The secret does not open this upload."""


def _derive(secret: bytes, upload_id: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=upload_id.encode(), info=info).derive(secret)


class UploadKeys:
    def __init__(self, secret: bytes, upload_id: str):
        if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
            raise ValueError("the secret must be 32 to 64 bytes")
        self._aead = AESGCM(_derive(secret, upload_id, _WRAP_INFO))
        self.verifier = hashlib.sha256(_derive(secret, upload_id, _VERIFY_INFO)).digest()

    def matches(self, verifier: bytes) -> bool:
        return hmac.compare_digest(self.verifier, verifier)

    def seal(self, purpose: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose)

    def open(self, purpose: bytes, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], purpose)
        except (InvalidTag, ValueError):
            raise WrongSecret() from None
