"""The client package on its own: what it imports, how it reads inputs, how it writes downloads, what it documents."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from anon_hosting.client import cli, files, inputs

from ..contract.spec import REPO_ROOT
from .conftest import ANON_HOSTING

CLIENT_DIR = Path(cli.__file__).parent
SERVER_SIDE = ("flask", "werkzeug", "jwcrypto", "cryptography", "boto3", "botocore", "dotenv", "gunicorn")
TOKEN = "eyJhbGciOiJkaXIifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"


def test_the_client_imports_nothing_from_the_server_side():
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, anon_hosting.client.cli; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True).stdout.split()
    ours = [m for m in loaded if m.startswith("anon_hosting.") and not m.startswith("anon_hosting.client")]
    theirs = [m for m in loaded if m.split(".")[0] in SERVER_SIDE]
    assert ours == [] and theirs == [], f"the client loaded server modules: {ours + theirs}"


@pytest.mark.parametrize("module", sorted(CLIENT_DIR.glob("*.py")), ids=lambda p: p.name)
def test_client_modules_import_only_the_stdlib_tqdm_and_each_other(module):
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, f"{module.name} reaches outside the client package: {ast.unparse(node)}"
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "tqdm", f"{module.name} imports {name}"


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("2h", 7200), ("1d", 86400), ("7d", 604800),
                                           ("45s", 45), ("1w", 604800), ("3600", 3600), (" 2H ", 7200)])
def test_durations(text, seconds):
    assert inputs.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0m", "1.5h", "-1d", "1y", "m", "1 day"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        inputs.parse_duration(text)


@pytest.mark.parametrize("text", [TOKEN, f" {TOKEN}\n", f"https://drop.example.org/#{TOKEN}",
                                  f"http://127.0.0.1:8080/#{TOKEN}\r\n", f"#{TOKEN}"])
def test_tokens_from_links_and_files(text):
    assert inputs.parse_token(text) == TOKEN


@pytest.mark.parametrize("text", ["", "hello", "https://drop.example.org/", "a.b.c.d.e", "x" * 20000])
def test_text_without_a_token(text):
    with pytest.raises(inputs.NotAToken):
        inputs.parse_token(text)


def test_token_sources(tmp_path, monkeypatch):
    (tmp_path / "t.jwe").write_text(TOKEN + "\n")
    monkeypatch.chdir(tmp_path)
    assert inputs.token_from("t.jwe") == TOKEN
    with pytest.raises(inputs.InputError):
        inputs.token_from("missing.jwe")
    (tmp_path / "binary.jwe").write_bytes(b"\xff\xfe")
    with pytest.raises(inputs.NotAToken):
        inputs.token_from("binary.jwe")


def test_a_passphrase_file_keeps_everything_but_one_trailing_newline(tmp_path):
    (tmp_path / "p").write_text("  two  words \n")
    assert inputs.secret_from_file(str(tmp_path / "p")) == "  two  words "
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(inputs.InputError):
        inputs.secret_from_file(str(tmp_path / "empty"))


@pytest.mark.parametrize("name, safe", [("report.pdf", "report.pdf"), ("../../etc/passwd", "_.._etc_passwd"),
                                        ("a/b\\c", "a_b_c"), ("..", "download"), ("", "download"),
                                        (".hidden", "hidden"), ("new\nline", "new_line"), ("ok\x00", "ok_")])
def test_server_names_become_one_safe_path_component(name, safe):
    assert files.safe_name(name) == safe


def test_a_short_download_leaves_nothing(tmp_path):
    with pytest.raises(files.IncompleteDownload):
        files.save(iter([b"abc"]), 10, tmp_path / "f")
    with pytest.raises(files.IncompleteDownload):
        files.save(iter([b"abc", b"defgh"]), 5, tmp_path / "f")
    assert list(tmp_path.iterdir()) == []


def test_a_complete_download_appears_only_at_the_end(tmp_path):
    def chunks():
        yield b"abc"
        assert not (tmp_path / "f").exists() and len(list(tmp_path.iterdir())) == 1  # only the temp file
        yield b"def"
    assert files.save(chunks(), 6, tmp_path / "f") == 6
    assert (tmp_path / "f").read_bytes() == b"abcdef" and list(tmp_path.iterdir()) == [tmp_path / "f"]
    with pytest.raises(FileExistsError):
        files.save(iter([b"x"]), 1, tmp_path / "f")
    files.save(iter([b"x"]), 1, tmp_path / "f", force=True)
    assert (tmp_path / "f").read_bytes() == b"x"


def test_help_and_docs_carry_the_exit_code_table():
    help_text = subprocess.run([str(ANON_HOSTING), "--help"], capture_output=True, text=True, check=True).stdout
    docs = (REPO_ROOT / "docs" / "cli.md").read_text()
    for code in set(cli.EXIT_FOR_CODE.values()) | {cli.OK, cli.OTHER, cli.USAGE, cli.NETWORK}:
        assert f"\n  {code} " in cli.EXIT_CODES
        assert f"| {code} |" in docs, f"docs/cli.md lacks exit code {code}"
    for error_code in cli.EXIT_FOR_CODE:
        assert error_code in cli.EXIT_CODES and f"`{error_code}`" in docs
    assert cli.EXIT_CODES.strip() in help_text
