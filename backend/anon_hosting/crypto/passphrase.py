"""Binding a file key to a passphrase: scrypt, then AES-256-GCM key wrapping.

Contract: ``wrap(file_key, passphrase) -> (salt, wrapped)`` and
``unwrap(wrapped, salt, passphrase) -> file_key`` (``WrongPassphrase`` on any
mismatch). The random file key is made first and wrapped afterwards, so the
passphrase may arrive after the file's bytes. scrypt uses n = 2^15, r = 8, p = 1
(32 MiB per derivation); ``MAX_CONCURRENT`` derivations run at once per process,
so a burst of attempts cannot push a worker past its memory budget.
"""

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_SIZE = 16
MAX_CONCURRENT = 1
MAX_PASSPHRASE_BYTES = 1024
_AAD = b"anon-hosting passphrase v1"
_NONCE = bytes(12)  # each wrapping key is used once: it comes from a fresh random salt
_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class WrongPassphrase(Exception):
    pass


def _derive(passphrase: str, salt: bytes) -> AESGCM:
    with _slots:
        key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())
    return AESGCM(key)


def wrap(file_key: bytes, passphrase: str) -> tuple[bytes, bytes]:
    salt = os.urandom(SALT_SIZE)
    return salt, _derive(passphrase, salt).encrypt(_NONCE, file_key, _AAD)


def unwrap(wrapped: bytes, salt: bytes, passphrase: str) -> bytes:
    try:
        return _derive(passphrase, salt).decrypt(_NONCE, wrapped, _AAD)
    except InvalidTag:
        raise WrongPassphrase() from None
