"""``put`` over 8 MiB goes through tus: it retries a dropped connection by itself, and after Ctrl-C
``put --resume FILE`` goes on from the server's offset; the upload's URL and secret live in a 0600 state
file only until the upload is done."""

import base64
import json
import os
import signal
import stat
import subprocess
import time

import psutil
import requests

from .conftest import ANON_HOSTING, client_env, record_tokens

MIB = 1 << 20


def state_files(cache) -> list:
    folder = cache / "anon-hosting" / "uploads"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def server_offset(server, state: dict) -> int:
    answer = requests.head(server.url(state["url"]), timeout=30,
                           headers={"Tus-Resumable": "1.0.0", "Upload-Secret": state["secret"]})
    return int(answer.headers.get("Upload-Offset", -1)) if answer.status_code == 200 else -1


def start_put(server, workdir, cache, *args):
    env = client_env(server, XDG_CACHE_HOME=str(cache))
    return subprocess.Popen([str(ANON_HOSTING), "put", "--json", *args], cwd=workdir, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_progress(server, cache, size: int) -> dict:
    """The state file's content once the server holds some of the file, but not all of it."""
    for _ in range(600):
        files = state_files(cache)
        if files:
            state = json.loads(files[0].read_text())
            if 0 < server_offset(server, state) < size:
                return state
        time.sleep(0.02)
    raise AssertionError("the upload never showed progress")


def download(server, answer: dict) -> bytes:
    return requests.post(server.url("/api/files/retrieve"), json={"token": answer["token"]}, timeout=120).content


def test_a_small_file_stays_a_plain_upload_and_a_large_one_goes_through_tus(cli, server, workdir, tmp_path):
    (workdir / "small.bin").write_bytes(os.urandom(MIB))
    (workdir / "large.bin").write_bytes(data := os.urandom(8 * MIB + 1))
    before = server.log_text().count("POST /api/uploads ")
    result = cli("put", "--json", "small.bin", "large.bin", env=client_env(server, XDG_CACHE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert server.log_text().count("POST /api/uploads ") == before + 1
    assert download(server, answers[1]) == data
    assert state_files(tmp_path) == []


def patches_since(server, mark: int) -> list[str]:
    """The PATCH lines logged after line ``mark`` (the access log shows an upload's id as [redacted])."""
    return [line for line in server.log_text().splitlines()[mark:] if "PATCH /api/uploads/" in line]


def test_ctrl_c_then_resume_goes_on_from_the_servers_offset(server, workdir, tmp_path):
    mark = len(server.log_text().splitlines())
    data = os.urandom(160 * MIB)
    (workdir / "big.bin").write_bytes(data)
    first = start_put(server, workdir, tmp_path, "big.bin")
    state = wait_for_progress(server, tmp_path, len(data))
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130 and "put --resume big.bin" in err
    [state_path] = state_files(tmp_path)
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_path.parent.stat().st_mode) == 0o700
    held = server_offset(server, state)
    assert 0 < held < len(data)

    again = start_put(server, workdir, tmp_path, "--resume", "big.bin")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    record_tokens(server, out)
    assert state_files(tmp_path) == []
    assert download(server, json.loads(out)) == data
    assert len(patches_since(server, mark)) == 2  # one cut by Ctrl-C, one that went on from `held`
    assert base64.urlsafe_b64decode(state["secret"] + "==")  # the secret is kept until the end, then gone


def test_a_dropped_connection_is_retried_by_itself(server, workdir, tmp_path):
    mark = len(server.log_text().splitlines())
    data = os.urandom(160 * MIB)
    (workdir / "train.bin").write_bytes(data)
    put = start_put(server, workdir, tmp_path, "train.bin")
    wait_for_progress(server, tmp_path, len(data))
    for worker in psutil.Process(server.process.pid).children():
        os.kill(worker.pid, signal.SIGKILL)  # gunicorn starts new ones; the client's connection breaks
    out, err = put.communicate(timeout=300)
    assert put.returncode == 0, err
    record_tokens(server, out)
    assert download(server, json.loads(out)) == data
    assert len(patches_since(server, mark)) >= 1  # the killed worker logged nothing; the retry did
    assert state_files(tmp_path) == []
