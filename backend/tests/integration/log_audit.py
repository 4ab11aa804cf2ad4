"""End-of-session check that no secret reached any gunicorn log, the access log included.

The secrets of a test server are its SECRET_KEY and every token it issued (the
download token and the owner token of each upload): each token whole, each of
its compact-JWE parts (protected header, IV, ciphertext, tag), and, for a
download token, the file key inside it (base64url and hex), read back with the
server's own key set. Every line of every server's log (gunicorn's stdout and
stderr together) is searched for each of them.
"""

from dataclasses import dataclass, field

from jwcrypto.common import base64url_encode

from anon_hosting import keys, tokens

from .server import GunicornServer

MIN_PART_LENGTH = 16  # the shortest compact-JWE part we issue (the 96-bit IV) has 16 characters


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
                if kind == "token":
                    file_key = _file_key(server, token)
                    found.append(Secret(f"file key (base64url) in {label}", base64url_encode(file_key)))
                    found.append(Secret(f"file key (hex) in {label}", file_key.hex()))
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
                if not any("/api/health" in line and " 200 " in line for line in server.log_text().splitlines())]


def _file_key(server: GunicornServer, token: str) -> bytes:
    """The file key sealed in a download token, opened with the server's key set (SECRET_KEY + PRIVATE_FOLDER)."""
    if not (server.private_dir / keys.KEYSET_FILE).is_file():
        raise AssertionError(f"{server.private_dir} has no key set, yet the server issued tokens")
    return tokens.verify(token, keys.KeyRing(server.private_dir, server.secret_key)).file_key
