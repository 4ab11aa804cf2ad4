"""Every shell block of README.md and docs/ runs as written, in order, from a fresh folder, against a real gunicorn.

A shell block is a ```sh fence. A block right after ``<!-- sh: REASON -->`` is not
run, and REASON must be one of NOT_RUN. Every other block runs: the test lays out
a fresh folder as a clone of this checkout looks after `make setup` (the files git
tracks or would track, with this run's venv linked in as .venv and the make stamp
that says it is installed, so nothing is fetched), runs `make setup` there, then
the blocks of README.md and of docs/*.md (by name) in document order, in one bash
with ``set -euo pipefail``. The example server address is replaced by the test
server's; ``report.pdf`` and ``passphrase.txt``, which the README says the reader
has, are in the folder. The test's own venv is taken off PATH, so the blocks must
find their commands as the README tells the reader to. Each "From the terminal"
block also runs alone, after the one that points at the server, in a folder of its
own: each creates what it needs. Every ``.pdf`` downloaded must equal report.pdf.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.conftest import CLIENT_ENV_VARS, record_tokens
from tests.contract.spec import REPO_ROOT
from tests.integration.server import APP_ENV_VARS
from tests.integration.transfer import MIB, sha256_file, write_random_file

EXAMPLE_SERVER = "https://drop.example.org"
NOT_RUN = {
    "needs docker": "Docker is not installed where the tests run; tests/deploy checks the compose file",
    "needs kubernetes": "it talks to a cluster",
    "needs the network": "it asks a package registry, and make test reads only the repository and loopback",
    "runs the site or the suite": "make run serves until Ctrl-C (CI's newcomer test runs it as written, in a fresh "
                                  "clone, as a normal user) and make test is the suite this test runs in",
}
_BLOCK = re.compile(r"(?:^[ \t]*<!-- sh: (?P<reason>[^>]*?) -->\n)?"
                    r"^(?P<indent>[ \t]*)```sh\n(?P<body>.*?)^(?P=indent)```$", re.S | re.M)
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def shell_blocks(path: Path) -> list[tuple[str | None, str]]:
    """(reason it is not run or None, body with its indentation removed) of each ```sh block, in order."""
    blocks = []
    for match in _BLOCK.finditer(path.read_text(encoding="utf-8")):
        indent = match["indent"]
        body = "".join(line.removeprefix(indent) for line in match["body"].splitlines(keepends=True))
        blocks.append((match["reason"], body))
    return blocks


def terminal_blocks() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- terminal:start -->", 1)[1].split("<!-- terminal:end -->", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


def test_every_shell_block_is_run_or_says_why_not():
    fences = {path.name: len(re.findall(r"^[ \t]*```sh$", path.read_text(encoding="utf-8"), re.M))
              for path in DOCUMENTS}
    assert {path.name: len(shell_blocks(path)) for path in DOCUMENTS} == fences, "a ```sh block was not parsed"
    reasons = {reason for path in DOCUMENTS for reason, _ in shell_blocks(path) if reason is not None}
    assert reasons <= set(NOT_RUN), f"unknown reasons {reasons - set(NOT_RUN)}; allowed: {sorted(NOT_RUN)}"
    blocks = terminal_blocks()
    assert any("anon-hosting put" in b for b in blocks) and any("curl" in b for b in blocks)
    assert EXAMPLE_SERVER in blocks[0], f"the first example should set ANON_HOSTING_URL={EXAMPLE_SERVER}"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """A fresh folder laid out as a clone of this checkout after `make setup` (which the test then runs)."""
    folder = tmp_path_factory.mktemp("fresh") / "anon-hosting"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file() or source.is_symlink():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name, follow_symlinks=False)
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (folder / ".stamps").mkdir()
    (folder / ".stamps" / "venv").touch()  # newer than the copied locks: make setup installs nothing
    return folder


def reader_env(**extra: str) -> dict[str, str]:
    """The environment of a reader's shell: no app setting, no client setting, and no venv on PATH."""
    venv_bin = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    drop = set(APP_ENV_VARS) | set(CLIENT_ENV_VARS) | {"VIRTUAL_ENV", "HOST", "PORT", "API_PORT", "MAKEFLAGS",
                                                        "MAKELEVEL", "MFLAGS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "PATH": path, "PYTHONUNBUFFERED": "1", **extra}


def run_script(script: str, server, folder: Path) -> subprocess.CompletedProcess:
    script = "set -euo pipefail\n" + script.replace(EXAMPLE_SERVER, server.base_url)
    result = subprocess.run(["bash", "-c", script], check=False, cwd=folder, env=reader_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
                            start_new_session=True)
    _record_tokens(server, folder)
    return result


def reader_files(folder: Path) -> str:
    """report.pdf and passphrase.txt, which the README says the reader has; returns report.pdf's digest."""
    (folder / "passphrase.txt").write_text("correct horse battery staple\n")
    return write_random_file(folder / "report.pdf", 3 * MIB + 17)


def test_every_block_runs_in_order_from_a_fresh_folder(server, fresh):
    missing = [tool for tool in ("bash", "curl", "jq", "make", "git") if shutil.which(tool) is None]
    assert not missing, f"the README examples need {missing}: make system-deps installs them"
    digest = reader_files(fresh)
    blocks = [f"# --- {path.name}\n{body}" for path in DOCUMENTS for reason, body in shell_blocks(path)
              if reason is None]
    result = run_script("make setup\n" + "\n".join(blocks), server, fresh)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "1  (active)" in result.stdout.splitlines(), "docs/scaling.md says `keys list` prints it"
    assert (fresh / "keyset" / "keyset.jwe").is_file()
    downloads = [p for p in fresh.rglob("*.pdf") if p != fresh / "report.pdf" and ".venv" not in p.parts]
    assert len(downloads) >= 4, downloads
    for path in downloads:
        assert sha256_file(path) == digest, f"{path.relative_to(fresh)} differs from report.pdf"


@pytest.mark.parametrize("number", range(1, len(terminal_blocks())))
def test_each_terminal_block_stands_on_its_own(server, fresh, tmp_path, number):
    """In a folder of its own, after the block that points at the server (run from the fresh clone)."""
    digest = reader_files(tmp_path)
    first, block = terminal_blocks()[0], terminal_blocks()[number]
    result = run_script(f"cd {fresh}\n{first}\ncd {tmp_path}\n{block}", server, tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for path in tmp_path.rglob("*.pdf"):
        assert sha256_file(path) == digest, f"{path.relative_to(tmp_path)} differs from report.pdf"


def _record_tokens(server, folder) -> None:
    """Whatever tokens the examples left behind, for the log audit."""
    for sub in {p.parent for p in folder.rglob("*.owner-token") if ".venv" not in p.parts}:
        record_tokens(server, folder=sub)
    answer = folder / "answer.json"
    if answer.is_file():
        server.record_answer(json.loads(answer.read_text()))
    for link in folder.glob("*link*.txt"):
        server.record_answer({"token": link.read_text().strip().rpartition("#")[2]})
