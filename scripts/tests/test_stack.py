"""scripts/stack.py (what `make run` runs): it tells the truth about start-up.

Every server here is real (gunicorn, and nginx when installed) on ports the OS
picked; the tests occupy the ports themselves and never assume a default port
is free or taken.
"""

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.integration.server import APP_ENV_VARS, random_secret_key

REPO = Path(__file__).resolve().parents[2]
STACK_PY = REPO / "scripts" / "stack.py"
_spec = importlib.util.spec_from_file_location("anon_hosting_stack", STACK_PY)
stack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stack)


def app_env(root: Path, secret_key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_VARS + ("HOST", "PORT", "API_PORT")}
    env.update({"ANON_HOSTING_ENV_FILE": "/dev/null", "ENCRYPTED_FILE_STORAGE": str(root / "files"),
                "PRIVATE_FOLDER": str(root / "private"), "SECRET_KEY": secret_key or random_secret_key(),
                "PYTHONUNBUFFERED": "1"})
    return env


def make_run(env: dict[str, str], web_port: int, api_port: int, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(STACK_PY), "run"], cwd=REPO, text=True, stdin=subprocess.DEVNULL,
                            env={**env, "PORT": str(web_port), "API_PORT": str(api_port)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, **kwargs)


def kept_folder(stderr: str) -> Path:
    found = re.search(r"\(the logs stay in (\S+)\)", stderr)
    assert found, stderr
    return Path(found.group(1))


@pytest.fixture
def running(tmp_path):
    """Another Anon Hosting, already serving."""
    with stack.Stack(storage_dir=tmp_path / "other" / "f", private_dir=tmp_path / "other" / "p",
                     workdir=tmp_path / "other" / "w", env={"SECRET_KEY": random_secret_key(),
                                                            "ANON_HOSTING_ENV_FILE": "/dev/null"}) as other:
        yield other


def test_ports_taken_by_another_anon_hosting_are_one_line_and_nothing_starts(running, tmp_path):
    process = make_run(app_env(tmp_path), running.web_port, running.api_port)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stdout == "", "nothing may start"
    [line] = stderr.splitlines()
    assert f"PORT {running.web_port} on 127.0.0.1 is taken (another Anon Hosting is already running there)" in line
    if running.use_nginx:
        assert f"API_PORT {running.api_port} on 127.0.0.1 is taken" in line
    suggested = dict(re.findall(r"\b((?:API_)?PORT)=(\d+)", line))
    assert set(suggested) == ({"PORT", "API_PORT"} if running.use_nginx else {"PORT"}), line
    assert all(stack.port_taken("127.0.0.1", int(port)) is None for port in suggested.values()), line
    assert not (tmp_path / "files").exists(), "nothing may start"


def test_a_port_held_by_something_else_is_named_without_guessing(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process = make_run(app_env(tmp_path), port, stack.free_port())
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1 and stdout == ""
    [line] = stderr.splitlines()
    assert f"PORT {port} on 127.0.0.1 is taken. Pick a free port: PORT=" in line


def test_a_stranger_answering_the_port_is_never_taken_for_our_server(running, tmp_path):
    """As when another server takes the port between the check and the bind: start() must fail, not succeed."""
    port = running.api_port if running.use_nginx else running.web_port
    mine = stack.Stack(web_port=None if running.use_nginx else port, api_port=port,
                       storage_dir=tmp_path / "f", private_dir=tmp_path / "p", workdir=tmp_path / "w",
                       env={"SECRET_KEY": random_secret_key(), "ANON_HOSTING_ENV_FILE": "/dev/null"})
    with pytest.raises(stack.ProcessFailed) as failed:
        mine.start(timeout=60)
    assert str(port) in failed.value.cause, failed.value
    assert stack.health(f"{running.url}/api/health")["instance"] == running.instance_id


def test_a_secret_key_that_does_not_open_the_key_set_is_the_last_line(tmp_path):
    env = app_env(tmp_path)
    subprocess.run([sys.executable, "-c", "import sys; from anon_hosting.keys import KeyRing; "
                    "KeyRing(sys.argv[1], sys.argv[2])", str(tmp_path / "private"), random_secret_key()],
                   check=True, cwd=REPO / "backend")
    process = make_run(env, stack.free_port(), stack.free_port())
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "is running" not in stdout
    assert stderr.splitlines()[-1].startswith(
        "Stopped: anon-hosting: configuration error: SECRET_KEY does not open the key set in PRIVATE_FOLDER"), stderr
    assert "Traceback" not in stderr and env["SECRET_KEY"] not in stderr + stdout
    shutil.rmtree(kept_folder(stderr))


def test_a_process_that_dies_is_reported_with_its_log_and_the_logs_are_kept(tmp_path):
    process = make_run(app_env(tmp_path), stack.free_port(), stack.free_port())
    try:
        started = process.stdout.readline() + process.stdout.readline()
        assert "Anon Hosting is running at" in started, started + process.stderr.read()
        [gunicorn] = [child for child in psutil.Process(process.pid).children()
                      if "gunicorn" in " ".join(child.cmdline())]
        gunicorn.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(60)
    assert process.returncode == 1
    assert "gunicorn exited with status 0; last lines of" in stderr and "Shutting down: Master" in stderr
    assert stderr.splitlines()[-1] == "Stopped: gunicorn exited with status 0."
    logs = kept_folder(stderr)
    assert (logs / "gunicorn.log").is_file()
    shutil.rmtree(logs)
