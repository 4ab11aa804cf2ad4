"""End-of-session check that no secret reached any gunicorn log, the access log included.

The secrets of a test server are its SECRET_KEY, every passphrase sent to it,
and every token it issued (the download token and the owner token of each
upload): each token whole, each of its compact-JWE parts (protected header, IV,
ciphertext, tag), the storage name inside it and, for a download token, the file
key (base64url and hex), read back with the server's own key set. Every line of
every server's log (gunicorn's stdout and stderr together, tracebacks included)
is searched for each of them. The logs of servers run with LOG_FORMAT=json must
also be one JSON object per line.
"""

import json
from dataclasses import dataclass, field
from importlib.resources import files

import yaml
from jwcrypto.common import base64url_encode

from anon_hosting import keys, tokens

from .server import GunicornServer

MIN_PART_LENGTH = 16  # the shortest compact-JWE part we issue (the 96-bit IV) has 16 characters
MIN_PASSPHRASE_LENGTH = 6  # shorter ones ("x") would match ordinary words; the tests' real ones are longer
# A fuzzed passphrase inside a route and the protocol name (say "openapi") is on every line of that route.
_SPEC = yaml.safe_load(files("anon_hosting").joinpath("openapi.yaml").read_text())
ORDINARY = tuple(f"{path} HTTP/1.1" for path in _SPEC["paths"])


@dataclass(frozen=True)
class Secret:
    what: str
    value: str


@dataclass
class LogAudit:
    servers: list[GunicornServer] = field(default_factory=list)

    def watch(self, server: GunicornServer) -> None:
        self.servers.append(server)

    def secrets(self) -> list[Secret]:
        found = []
        for server in self.servers:
            found.append(Secret(f"SECRET_KEY of the server in {server.root}", server.secret_key))
            for number, (kind, token) in enumerate(server.issued):
                label = f"{kind} #{number} of the server in {server.root}"
                found.append(Secret(label, token))
                found.extend(Secret(f"JWE part {i} of {label}", part)
                             for i, part in enumerate(token.split(".")) if len(part) >= MIN_PART_LENGTH)
                claims = _claims(server, token)
                found.append(Secret(f"storage name in {label}", claims.storage_name))
                if kind == "token":
                    found.append(Secret(f"file key (base64url) in {label}", base64url_encode(claims.file_key)))
                    found.append(Secret(f"file key (hex) in {label}", claims.file_key.hex()))
            found.extend(Secret(f"a passphrase sent to the server in {server.root}", passphrase)
                         for passphrase in server.passphrases if _telling(passphrase))
        return found

    def leaks(self) -> list[str]:
        """One line per (secret, log line) where a secret shows up."""
        secrets = self.secrets()
        return [f"{secret.what} in {server.log_path}:{number}: {line[:200]}"
                for server in self.servers
                for number, line in enumerate(server.log_text().splitlines(), 1)
                for secret in secrets if secret.value in line]

    def silent_logs(self) -> list[str]:
        """Logs without a single access log line: searching them would prove nothing."""
        return [str(server.log_path) for server in self.servers
                if not any(_health_access_line(line) for line in server.log_text().splitlines())]

    def malformed_json_logs(self) -> list[str]:
        """Lines of LOG_FORMAT=json servers that are not one JSON object with a time, a level and a request id."""
        return [f"{server.log_path}:{number}: {line[:200]}" for server in self.servers
                if (server.extra_env or {}).get("LOG_FORMAT") == "json"
                for number, line in enumerate(server.log_text().splitlines(), 1) if not _json_entry(line)]


def _health_access_line(line: str) -> bool:
    if "/api/health" in line and " 200 " in line:
        return True
    entry = _json_entry(line)
    return bool(entry) and entry.get("route") == "/api/health" and entry.get("status") == 200


def _json_entry(line: str) -> dict | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and {"time", "level", "request_id"} <= set(entry) else None


def _claims(server: GunicornServer, token: str) -> tokens.FileClaims | tokens.OwnerClaims:
    """What a token seals (storage name, file key), opened with the server's key set (SECRET_KEY + PRIVATE_FOLDER)."""
    if not (server.private_dir / keys.KEYSET_FILE).is_file():
        raise AssertionError(f"{server.private_dir} has no key set, yet the server issued tokens")
    return tokens.verify(token, keys.KeyRing(server.private_dir, server.secret_key))


def _telling(passphrase: str) -> bool:
    """Whether finding ``passphrase`` in a log would show a leak, not the ordinary text of a line."""
    return len(passphrase) >= MIN_PASSPHRASE_LENGTH and not any(passphrase in text for text in ORDINARY)
