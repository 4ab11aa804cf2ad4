"""The README's "From the terminal" examples run as written against a real gunicorn.

The ```sh blocks between ``<!-- terminal:start -->`` and ``<!-- terminal:end -->``
are joined into one bash script (``set -euo pipefail``), the example server
address is replaced by the test server's, and the script runs in a temp folder
holding ``report.pdf`` and ``passphrase.txt``, with the venv's ``anon-hosting``
first on PATH. Every ``.pdf`` it downloads must equal ``report.pdf``.
"""

import json
import os
import re
import shutil
import subprocess
import sys

from ..contract.spec import REPO_ROOT
from ..integration.transfer import MIB, sha256_file, write_random_file
from .conftest import client_env, record_tokens

EXAMPLE_SERVER = "https://drop.example.org"


def terminal_blocks() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- terminal:start -->", 1)[1].split("<!-- terminal:end -->", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)


def test_the_section_has_curl_and_cli_examples():
    blocks = terminal_blocks()
    assert any("anon-hosting put" in b for b in blocks) and any("curl" in b for b in blocks)
    assert any(EXAMPLE_SERVER in b for b in blocks), f"the examples should set ANON_HOSTING_URL={EXAMPLE_SERVER}"


def test_the_examples_run_and_download_the_same_bytes(server, tmp_path):
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    assert not missing, f"the README examples need {missing}: make system-deps installs them"
    digest = write_random_file(tmp_path / "report.pdf", 3 * MIB + 17)
    (tmp_path / "passphrase.txt").write_text("correct horse battery staple\n")
    script = "set -euo pipefail\n" + "\n".join(terminal_blocks()).replace(EXAMPLE_SERVER, server.base_url)
    env = client_env(server, PATH=f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}")
    result = subprocess.run(["bash", "-c", script], check=False, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=300, start_new_session=True)
    _record_tokens(server, tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    downloads = [p for p in tmp_path.rglob("*.pdf") if p != tmp_path / "report.pdf"]
    assert len(downloads) >= 4, downloads
    for path in downloads:
        assert sha256_file(path) == digest, f"{path.relative_to(tmp_path)} differs from report.pdf"


def _record_tokens(server, folder) -> None:
    """Whatever tokens the examples left behind, for the log audit."""
    for sub in {p.parent for p in folder.rglob("*.jwe")}:
        record_tokens(server, folder=sub)
    answer = folder / "answer.json"
    if answer.is_file():
        server.record_answer(json.loads(answer.read_text()))
    for link in folder.glob("*link*.txt"):
        server.record_answer({"token": link.read_text().strip().rpartition("#")[2]})
