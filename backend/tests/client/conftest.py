"""Fixtures for driving the ``anon-hosting`` console script against a real gunicorn.

``cli(*args)`` runs the installed console script (the one beside the running
interpreter) in a fresh temp folder with ANON_HOSTING_URL pointing at the
module's server, in its own session with stdin from /dev/null unless given:
no controlling terminal, so a prompt fails at once instead of hanging. Tokens
the CLI prints with ``--json`` or saves with ``-o`` are handed to the server's
log audit (from tests/integration) with ``record_tokens``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..integration.conftest import log_audit, serve  # noqa: F401  (fixtures)

ANON_HOSTING = Path(sys.executable).parent / "anon-hosting"
CLIENT_ENV_VARS = ("ANON_HOSTING_URL", "ANON_HOSTING_UPLOAD_PASSWORD")


@pytest.fixture(scope="module")
def server(serve):  # noqa: F811 (the imported fixture)
    with serve("cli", max_upload_bytes=256 << 20) as server:
        yield server


def client_env(server, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV_VARS}
    env.update({"ANON_HOSTING_URL": server.base_url, "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def cli(server, workdir):
    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([str(ANON_HOSTING), *args], check=False, cwd=workdir, env=env or client_env(server),
                                input=input, stdin=None if input is not None else subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout, start_new_session=True)
        folder = workdir / args[args.index("-o") + 1] if args[:1] == ("put",) and "-o" in args else None
        record_tokens(server, result.stdout, folder if folder and folder.is_dir() else None)
        return result
    return run


def record_tokens(server, stdout: str = "", folder: Path | None = None) -> None:
    """Hand the tokens of ``put --json`` output, or of the token files in ``folder``, to the log audit."""
    for line in stdout.splitlines():
        if line.startswith("{"):
            server.record_answer(json.loads(line))
    for path in folder.glob("*.jwe") if folder else ():
        owner = path.with_name(path.name.removesuffix(".jwe") + ".owner-token")
        server.record_answer({"token": path.read_text().strip(), "owner_token": owner.read_text().strip()})
