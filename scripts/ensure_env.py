"""Create the local .env and the data folders (stdlib only; run by the Makefile).

    python3 scripts/ensure_env.py              # .env from .env.example, fresh SECRET_KEY
    python3 scripts/ensure_env.py --make-dirs  # also create the storage folders

An existing .env is never overwritten. The one change made to it: a SECRET_KEY
that is empty or still the example value is replaced by a random one, because the
backend refuses to start with it; but never while a key set exists in
PRIVATE_FOLDER, which only the SECRET_KEY that sealed it opens (it then exits 1 and
says what to do). The folders are read from the process environment first, then
.env, as the backend does (python-dotenv, no override); relative ones are taken
from the repository root, where `make run` starts the server.
"""
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SECRET = "change-me-to-a-long-random-string"  # noqa: S105 - the placeholder it replaces
_SECRET_LINE = re.compile(r"^(\s*(?:export\s+)?SECRET_KEY\s*=)(.*)$", re.MULTILINE)


def _with_fresh_secret(text):
    """Return text with an empty or example SECRET_KEY replaced, or None if none needs it."""
    match = _SECRET_LINE.search(text)
    if match is None or match.group(2).strip().strip("\"'") not in ("", EXAMPLE_SECRET):
        return None
    line = match.group(1) + secrets.token_urlsafe(48)
    return text[: match.start()] + line + text[match.end() :]


def _write_private(path, text):
    """Write atomically with mode 0600: the file holds the secret key."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_env(env_path, example_path):
    existed = env_path.exists()
    updated = _with_fresh_secret(env_path.read_text() if existed else example_path.read_text())
    if updated is None:
        return
    keyset = _folder(env_path, "PRIVATE_FOLDER", "./data/private") / "keyset.jwe"
    if keyset.exists():
        why = "has no SECRET_KEY of its own (empty or the example value)" if existed else "is missing"
        sys.exit(f"{env_path.name} {why}, but {keyset} exists: only the SECRET_KEY that sealed it opens it, so "
                 f"{env_path.name} was left as it is. Put the old SECRET_KEY back in {env_path.name} (from a "
                 f"backup), or move {keyset.parent} away to start afresh, which makes every existing token useless.")
    _write_private(env_path, updated)
    if existed:
        print(f"{env_path.name}: replaced the example SECRET_KEY with a random one")
    else:
        print(f"{env_path.name}: created from {example_path.name} with a random SECRET_KEY")


def _dotenv_values(path):
    """Parse simple KEY=VALUE lines (enough for our own .env; python-dotenv is the real reader)."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.removeprefix("export ").split("=", 1)
                values[key.strip()] = value.strip().strip("\"'")
    return values


def _folder(env_path, key, default):
    """A folder setting as the server started from the repository root sees it."""
    values = {**_dotenv_values(env_path), **os.environ}
    return ROOT / (values.get(key) or default)


def make_dirs(env_path):
    for key, default in (("ENCRYPTED_FILE_STORAGE", "./data/files"), ("PRIVATE_FOLDER", "./data/private")):
        _folder(env_path, key, default).mkdir(mode=0o700, parents=True, exist_ok=True)


def main(argv):
    env_path = ROOT / ".env"
    ensure_env(env_path, ROOT / ".env.example")
    if "--make-dirs" in argv:
        make_dirs(env_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
