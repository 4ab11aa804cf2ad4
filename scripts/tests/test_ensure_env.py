"""scripts/ensure_env.py, run as `make setup` runs it, in a copy of the repository's root files.

It writes a fresh SECRET_KEY only where none is set, and never while a key set
sealed by an earlier SECRET_KEY lies in PRIVATE_FOLDER: a new key could not open it.
"""

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SECRET = "change-me-to-a-long-random-string"


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "ensure_env.py", tmp_path / "scripts")
    shutil.copy(REPO / ".env.example", tmp_path)
    return tmp_path


def ensure_env(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"}  # no PRIVATE_FOLDER or other setting from the caller
    return subprocess.run([sys.executable, str(root / "scripts" / "ensure_env.py"), *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def secret_key(env_file: Path) -> str:
    return next(line.split("=", 1)[1] for line in env_file.read_text().splitlines() if line.startswith("SECRET_KEY="))


def test_a_fresh_clone_gets_an_owner_only_env_with_a_random_key(root):
    result = ensure_env(root, "--make-dirs")
    assert result.returncode == 0, result.stderr
    key = secret_key(root / ".env")
    assert len(key) >= 32 and key != EXAMPLE_SECRET
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert (root / "data" / "files").is_dir() and (root / "data" / "private").is_dir()
    assert ensure_env(root).stdout == "", "a second run must leave a good .env alone, silently"
    assert secret_key(root / ".env") == key


@pytest.mark.parametrize("env_file", ["copied from .env.example", "deleted"])
def test_a_key_set_keeps_its_secret_key(root, env_file):
    assert ensure_env(root, "--make-dirs").returncode == 0
    (root / "data" / "private" / "keyset.jwe").write_text("sealed by the key in .env")
    if env_file == "deleted":
        (root / ".env").unlink()
    else:
        shutil.copy(root / ".env.example", root / ".env")
    result = ensure_env(root, "--make-dirs")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "keyset.jwe exists" in result.stderr and "Put the old SECRET_KEY back" in result.stderr
    assert "every existing token useless" in result.stderr
    if env_file == "deleted":
        assert not (root / ".env").exists()
    else:
        assert (root / ".env").read_text() == (root / ".env.example").read_text()


def test_the_key_set_is_looked_for_where_env_puts_it(root):
    (root / ".env").write_text(f"PRIVATE_FOLDER=./elsewhere\nSECRET_KEY={EXAMPLE_SECRET}\n")
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "keyset.jwe").write_text("sealed")
    result = ensure_env(root)
    assert result.returncode == 1 and str(root / "elsewhere" / "keyset.jwe") in result.stderr
    (root / "elsewhere" / "keyset.jwe").unlink()
    assert ensure_env(root).returncode == 0
    assert secret_key(root / ".env") != EXAMPLE_SECRET
