"""Binding a file key to a passphrase: scrypt, then AES-256-GCM key wrapping.

Contract: ``wrap(file_key, passphrase) -> (salt, wrapped)`` and
``unwrap(wrapped, salt, passphrase) -> file_key`` (``WrongPassphrase`` on any
mismatch). The random file key is made first and wrapped afterwards, so the
passphrase may arrive after the file's bytes. scrypt uses n = 2^15, r = 8, p = 1
(32 MiB per derivation); ``MAX_CONCURRENT`` derivations run at once per process,
so a burst of attempts cannot push a worker past its memory budget. At most
``MAX_WAITING`` more wait for a slot, each for at most ``MAX_WAIT`` seconds;
any other derivation raises ``Busy`` at once, so passphrases can never occupy
more than a few of a worker's threads. Running derivations are counted in
``metrics.SCRYPT_IN_FLIGHT``.
"""

import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..metrics import SCRYPT_IN_FLIGHT

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_SIZE = 16
MAX_CONCURRENT = 1
MAX_WAITING = 2
MAX_WAIT = 0.5  # seconds: about two derivations
MAX_PASSPHRASE_BYTES = 1024
_AAD = b"anon-hosting passphrase v1"
_NONCE = bytes(12)  # each wrapping key is used once: it comes from a fresh random salt
_slots = threading.BoundedSemaphore(MAX_CONCURRENT)
_queue = threading.BoundedSemaphore(MAX_CONCURRENT + MAX_WAITING)  # running or waiting


class WrongPassphrase(Exception):
    pass


class Busy(Exception):
    """Every derivation slot was taken, and the queue full or too slow; nothing was derived."""


def _derive(passphrase: str, salt: bytes) -> AESGCM:
    if not _queue.acquire(blocking=False):
        raise Busy()
    try:
        if not _slots.acquire(timeout=MAX_WAIT):
            raise Busy()
        try:
            with SCRYPT_IN_FLIGHT.track_inprogress():
                key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())
        finally:
            _slots.release()
    finally:
        _queue.release()
    return AESGCM(key)


def wrap(file_key: bytes, passphrase: str) -> tuple[bytes, bytes]:
    salt = os.urandom(SALT_SIZE)
    return salt, _derive(passphrase, salt).encrypt(_NONCE, file_key, _AAD)


def unwrap(wrapped: bytes, salt: bytes, passphrase: str) -> bytes:
    try:
        return _derive(passphrase, salt).decrypt(_NONCE, wrapped, _AAD)
    except InvalidTag:
        raise WrongPassphrase() from None
