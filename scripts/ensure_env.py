"""Create the local .env and the data folders (stdlib only; run by the Makefile).

    python3 scripts/ensure_env.py              # .env from .env.example, fresh SECRET_KEY
    python3 scripts/ensure_env.py --make-dirs  # also create the storage folders

An existing .env is never overwritten. The one change made to it: a SECRET_KEY
that is empty or still the example value is replaced by a random one, because the
backend refuses to start with it. The folders are read from the process
environment first, then .env, as the backend does (python-dotenv, no override).
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
    if env_path.exists():
        text = env_path.read_text()
        updated = _with_fresh_secret(text)
        if updated is not None:
            _write_private(env_path, updated)
            print(f"{env_path.name}: replaced the example SECRET_KEY with a random one")
        return
    orphan = Path(os.environ.get("PRIVATE_FOLDER") or ROOT / "data" / "private") / "keyset.jwe"
    if orphan.exists():
        sys.exit(f"{env_path.name} is missing, but {orphan} exists: it was sealed with the SECRET_KEY of the old "
                 f"{env_path.name}, and a new key could not open it. Restore that {env_path.name}, or move "
                 f"{orphan.parent.parent} away to start afresh (its files cannot be opened without the old key).")
    _write_private(env_path, _with_fresh_secret(example_path.read_text()) or example_path.read_text())
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


def make_dirs(env_path):
    values = {**_dotenv_values(env_path), **os.environ}
    for key, default, mode in (
        ("ENCRYPTED_FILE_STORAGE", "./data/files", 0o700),
        ("PRIVATE_FOLDER", "./data/private", 0o700),
    ):
        folder = Path(values.get(key) or default)
        folder.mkdir(mode=mode, parents=True, exist_ok=True)


def main(argv):
    env_path = ROOT / ".env"
    ensure_env(env_path, ROOT / ".env.example")
    if "--make-dirs" in argv:
        make_dirs(env_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
