"""The server's token key set in PRIVATE_FOLDER: load, create once, rotate, retire.

Contract: ``KeyRing(folder, secret_key)`` opens (or creates, exactly once even
when several processes start together) the sealed key set file ``keyset.jwe``
and answers ``active()`` (the newest key, used to issue tokens) and
``get(kid)`` (any key still in the set, used to verify); ``check_loaded()`` raises
``KeysUnavailable`` unless the file can be read and opened (the readiness check). The file is a compact
JWE (dir, A256GCM) whose key is HKDF-SHA256 of SECRET_KEY, so the folder alone
and SECRET_KEY alone are both useless. Changes made by ``rotate``/``retire`` in
another process are picked up on the next lookup (the file is re-read when its
inode or mtime changes). Wrong SECRET_KEY or a damaged file raises ConfigError;
``check(folder, secret_key)`` raises it too, without ever creating a key set.
"""

import fcntl
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwe, jwk
from jwcrypto.common import base64url_encode as _b64

from .errors import ConfigError, KeysUnavailable
from .storage.durable import fsync_folder, write_temp

KEYSET_FILE = "keyset.jwe"
LOCK_FILE = "keyset.lock"
ALGS = ["dir", "A256GCM"]
_SEAL_HEADER = json.dumps({"alg": "dir", "enc": "A256GCM", "cty": "jwk-set+json"})


class KeyRing:
    def __init__(self, folder: Path, secret_key: str):
        self._folder = Path(folder)
        self._path = self._folder / KEYSET_FILE
        self._seal = jwk.JWK(kty="oct", k=_b64(_seal_key(secret_key)))
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, jwk.JWK] = {}
        self._active = ""
        _ensure_folder(self._folder)
        if not self._path.exists():
            self._create()
        self._refresh()

    def active(self) -> tuple[str, jwk.JWK]:
        self._refresh()
        return self._active, self._keys[self._active]

    def get(self, kid: str) -> jwk.JWK | None:
        self._refresh()
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        self._refresh()
        return list(self._keys)

    def check_loaded(self) -> None:
        """Raise KeysUnavailable unless the key set in the folder can be read and opened now."""
        try:
            self._refresh()
        except (OSError, ConfigError) as exc:
            raise KeysUnavailable() from exc

    def rotate(self) -> str:
        """Add a new key and make it the active one; older keys keep verifying."""
        with self._locked():
            keys = self._read()
            kid = str(max(int(k) for k in keys) + 1)
            keys[kid] = _new_key(kid)
            self._write_replace(keys)
        return kid

    def retire(self, kid: str) -> None:
        """Remove a key: every token issued under it stops working. The active key cannot go."""
        with self._locked():
            keys = self._read()
            if kid not in keys:
                raise ConfigError(f"There is no key with kid {kid!r}.")
            if kid == list(keys)[-1]:
                raise ConfigError("The active key cannot be retired; rotate first.")
            del keys[kid]
            self._write_replace(keys)

    # -- file handling -------------------------------------------------------

    def _refresh(self) -> None:
        st = self._path.stat()
        if (st.st_ino, st.st_mtime_ns) != self._stamp:
            self._keys = self._read()
            self._active = list(self._keys)[-1]
            self._stamp = (st.st_ino, st.st_mtime_ns)

    def _read(self) -> dict[str, jwk.JWK]:
        token = jwe.JWE(algs=ALGS)
        try:
            token.deserialize(self._path.read_text(), key=self._seal)
            entries = json.loads(token.payload)["keys"]
        except Exception as exc:  # jwcrypto raises several types; all mean the same here
            raise ConfigError(
                f"SECRET_KEY does not open the key set in PRIVATE_FOLDER ({self._path}): restore the old key, "
                "or move the folder away to start afresh, which makes every existing token useless "
                "(a damaged file gives this error too)."
            ) from exc
        return {entry["kid"]: jwk.JWK(**entry) for entry in entries}

    def _sealed(self, keys: dict[str, jwk.JWK]) -> bytes:
        payload = json.dumps({"keys": [k.export(as_dict=True) for k in keys.values()]})
        token = jwe.JWE(payload.encode(), protected=_SEAL_HEADER)
        token.add_recipient(self._seal)
        return token.serialize(compact=True).encode()

    def _create(self) -> None:
        # Write a complete temp file, then link it into place: link never replaces, so
        # when workers race, exactly one key set wins and everybody loads that one.
        tmp, _ = write_temp(self._folder, [self._sealed({"1": _new_key("1")})])
        try:
            os.link(tmp, self._path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        fsync_folder(self._folder)

    def _write_replace(self, keys: dict[str, jwk.JWK]) -> None:
        tmp, _ = write_temp(self._folder, [self._sealed(keys)])
        os.replace(tmp, self._path)
        fsync_folder(self._folder)

    def _locked(self):
        return _FileLock(self._folder / LOCK_FILE)


class _FileLock:
    def __init__(self, path: Path):
        self._path = path

    def __enter__(self):
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self._fd)


def check(folder: Path, secret_key: str) -> None:
    """Raise ConfigError when a key set exists in ``folder`` and ``secret_key`` does not open it."""
    if (Path(folder) / KEYSET_FILE).exists():
        KeyRing(folder, secret_key)


def _seal_key(secret_key: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"anon-hosting key set", info=b"seal v1")
    return hkdf.derive(secret_key.encode())


def _new_key(kid: str) -> jwk.JWK:
    return jwk.JWK(kty="oct", k=_b64(secrets.token_bytes(32)), kid=kid)


def _ensure_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
