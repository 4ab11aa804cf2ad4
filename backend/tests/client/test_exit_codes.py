"""Each failure exits with its documented code and prints the server's message.

The table test drives the CLI against a stub server that answers every error
code of the spec, so every code has a deliberate exit status; the other tests
provoke the same failures on a real gunicorn.
"""

import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ..contract import spec as contract
from ..integration.transfer import MIB, write_random_file
from .conftest import ANON_HOSTING, client_env

EXPECTED = {  # the table in `anon-hosting --help` and docs/cli.md
    "bad_request": 1, "method_not_allowed": 1, "unsupported_media_type": 1, "internal_error": 1, "keys_unavailable": 1,
    "invalid_token": 4, "forbidden": 4,
    "not_found": 5, "expired": 5, "download_limit_reached": 5, "download_in_progress": 5,
    "passphrase_required": 6, "wrong_passphrase": 6,
    "too_large": 7, "insufficient_storage": 7, "storage_unavailable": 7,
    "unauthorized": 8, "rate_limited": 8, "server_busy": 8, "request_timeout": 3,
    # a resumable upload's own codes: put retries the two transient ones, and any that reaches the user is 1
    "offset_mismatch": 1, "unsupported_version": 1, "upload_busy": 1,
    "upload_unfinished": 1,  # POST /api/bundles only, which the CLI does not call
}
STATUS = {"bad_request": 400, "invalid_token": 400, "unauthorized": 401, "passphrase_required": 401,
          "forbidden": 403, "wrong_passphrase": 403, "not_found": 404, "method_not_allowed": 405,
          "download_in_progress": 409, "expired": 410, "download_limit_reached": 410, "too_large": 413,
          "unsupported_media_type": 415, "rate_limited": 429, "internal_error": 500, "storage_unavailable": 503,
          "insufficient_storage": 507, "server_busy": 503, "request_timeout": 408, "keys_unavailable": 503,
          "offset_mismatch": 409, "unsupported_version": 412, "upload_busy": 423, "upload_unfinished": 409}
A_TOKEN = "eyJhbGciOiJkaXIifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"
PASSWORD = "cli-upload-password"


class _Stub(BaseHTTPRequestHandler):
    answer: tuple[int, bytes, str] = (500, b"", "text/plain")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body, kind = self.answer
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "42")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def stub():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def test_every_error_code_of_the_spec_has_a_deliberate_exit_code():
    assert set(EXPECTED) == contract.error_codes(contract.load())


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_exit_code_for_each_error_code(cli, workdir, stub, code):
    message = f"The server's own words about {code}."
    _Stub.answer = (STATUS[code], json.dumps({"error": {"code": code, "message": message}}).encode(),
                    "application/json")
    (workdir / "t.jwe").write_text(A_TOKEN)
    result = cli("info", "t.jwe", "--server", f"http://127.0.0.1:{stub.server_port}")
    assert result.returncode == EXPECTED[code], result.stderr
    assert message in result.stderr and f"({code})" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_answer_that_is_not_ours_exits_1(cli, workdir, stub):
    _Stub.answer = (502, b"<html>Bad Gateway</html>", "text/html")
    (workdir / "t.jwe").write_text(A_TOKEN)
    result = cli("info", "t.jwe", "--server", f"http://127.0.0.1:{stub.server_port}")
    assert result.returncode == 1 and "502" in result.stderr


# -- the same failures on a real server --------------------------------------------

def test_usage_errors_exit_2(cli, workdir):
    for folder in ("a", "b"):
        (workdir / folder).mkdir()
        (workdir / folder / "same.txt").write_text(folder)
    same_names = cli("put", "a/same.txt", "b/same.txt", "-o", "t")
    assert same_names.returncode == 2 and not (workdir / "t").exists()
    assert cli().returncode == 2
    assert cli("put", "missing.txt").returncode == 2
    assert cli("put", "x", "--expires", "soon").returncode == 2
    assert cli("put", "x", "--max-downloads", "0").returncode == 2
    no_prompt = cli("get")  # no token and no terminal to ask on: fails at once, never hangs
    assert no_prompt.returncode == 2 and "no terminal" in no_prompt.stderr


def test_unreachable_server_exits_3(cli, workdir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        (workdir / "t.jwe").write_text(A_TOKEN)
        result = cli("info", "t.jwe", "--server", f"http://127.0.0.1:{port}")
    assert result.returncode == 3 and "refused" in result.stderr


def test_token_errors_exit_4(cli, workdir):
    (workdir / "f.txt").write_text("f")
    assert cli("put", "f.txt", "-o", "t").returncode == 0
    token = (workdir / "t" / "f.txt.jwe").read_text().strip()
    (workdir / "damaged.jwe").write_text(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    (workdir / "not-a-token.jwe").write_text("hello world")
    for source, code in [("damaged.jwe", "invalid_token"), ("not-a-token.jwe", None),
                         ("t/f.txt.owner-token", "forbidden")]:
        result = cli("get", source, "-o", "x")
        assert result.returncode == 4, (source, result.stderr)
        assert code is None or f"({code})" in result.stderr
    assert cli("delete", "t/f.txt.jwe").returncode == 4  # a download token cannot delete


def test_gone_files_exit_5(cli, workdir):
    (workdir / "g.txt").write_text("g")
    assert cli("put", "g.txt", "-o", "once", "--max-downloads", "1").returncode == 0
    assert cli("put", "g.txt", "-o", "short", "--expires", "1").returncode == 0
    assert cli("put", "g.txt", "-o", "deleted").returncode == 0
    assert cli("get", "once/g.txt.jwe", "-o", "first.txt").returncode == 0
    assert cli("delete", "deleted/g.txt.owner-token").returncode == 0
    time.sleep(1.2)
    for folder, code in [("once", "download_limit_reached"), ("short", "expired"), ("deleted", "not_found")]:
        result = cli("get", f"{folder}/g.txt.jwe", "-o", "again.txt")
        assert result.returncode == 5 and f"({code})" in result.stderr, result.stderr
    assert not (workdir / "again.txt").exists()


def test_passphrase_errors_exit_6(cli, workdir):
    (workdir / "p.txt").write_text("p")
    (workdir / "pass").write_text("right")
    (workdir / "wrong").write_text("wrong")
    assert cli("put", "p.txt", "-o", "t", "--passphrase-file", "pass").returncode == 0
    required = cli("info", "t/p.txt.jwe")  # no terminal to ask on
    assert required.returncode == 6 and "--passphrase-file" in required.stderr
    wrong = cli("get", "t/p.txt.jwe", "--passphrase-file", "wrong", "-o", "out.txt")
    assert wrong.returncode == 6 and "(wrong_passphrase)" in wrong.stderr


def test_too_large_exits_7_before_sending(serve, workdir):
    with serve("cli-small", max_upload_bytes=MIB) as small:
        write_random_file(workdir / "big.bin", MIB + 1)
        result = subprocess.run([str(ANON_HOSTING), "put", "big.bin"], check=False, cwd=workdir, env=client_env(small),
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert result.returncode == 7 and "Nothing was sent" in result.stderr
        assert "POST /api/files" not in small.log_text()


def test_upload_password_exits_8_when_wrong_and_rate_limited(serve, workdir):
    extra = {"UPLOAD_PASSWORD": PASSWORD, "RATE_LIMIT_UPLOAD_PASSWORD": "10/10minutes"}
    with serve("cli-password", extra_env=extra, workers=1) as guarded:  # the limit counts per worker
        (workdir / "u.txt").write_text("u")

        def put(password: str | None) -> subprocess.CompletedProcess:
            env = client_env(guarded, **({"ANON_HOSTING_UPLOAD_PASSWORD": password} if password else {}))
            result = subprocess.run([str(ANON_HOSTING), "put", "u.txt", "--json"], check=False, cwd=workdir,
                                    env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=60, start_new_session=True)
            if result.returncode == 0:
                guarded.record_answer(json.loads(result.stdout))
            return result

        assert put(PASSWORD).returncode == 0
        asked = put(None)  # the server wants a password and there is no terminal to ask on
        assert asked.returncode == 2 and "Upload password" in asked.stderr
        wrong = [put("wrong") for _ in range(11)]
        assert [r.returncode for r in wrong] == [8] * 11
        assert "(unauthorized)" in wrong[0].stderr
        assert "(rate_limited)" in wrong[-1].stderr and "Try again in" in wrong[-1].stderr
