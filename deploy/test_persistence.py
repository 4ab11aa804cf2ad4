"""Stored files survive `down` and `up`, an image rebuild, a killed gunicorn master, and the
README's backup and restore."""

import os
import shlex
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from helpers import random_bytes, retrieve, sha256, upload

RESTART_TIMEOUT = 120
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def stored(site):
    """Files uploaded before any of the disruptions below, as token -> sha256."""
    files = {}
    for size in (0, 1, 1024 * 1024 + 1, 3 * 1024 * 1024):
        data = random_bytes(size)
        files[upload(site, data, f"persist-{size}.bin")["token"]] = sha256(data)
    return files


def assert_all_retrievable(site, stored):
    for token, digest in stored.items():
        response = retrieve(site, token)
        assert response.status_code == 200, response.text
        assert sha256(response.content) == digest


def container_ids(stack, service):
    return {stack.inspect(name, "{{.Id}}") for name in stack.containers(service)}


def test_files_survive_down_and_up(stack, site, stored):
    before = container_ids(stack, "backend")
    stack.down()
    assert not stack.containers(all_states=True)
    stack.up()
    assert container_ids(stack, "backend").isdisjoint(before)  # new containers, same volumes
    assert_all_retrievable(stack.url(), stored)


def test_files_survive_an_image_rebuild(stack, stored):
    backend, = stack.containers("backend")
    old_image = stack.inspect(backend, "{{.Image}}")
    # A new image as an upgrade makes one (the layers that did not change come from the cache);
    # the label makes it new even when nothing did. CI's compose-up builds everything cold.
    stack.build(services=["backend"], label=f"anon-hosting.test-rebuild={uuid.uuid4()}")
    stack.up()
    backend, = stack.containers("backend")
    assert stack.inspect(backend, "{{.Image}}") != old_image  # the container runs the rebuilt image
    assert_all_retrievable(stack.url(), stored)


def test_files_survive_a_killed_gunicorn_master(stack, site, stored):
    backend, = stack.containers("backend")
    started = stack.inspect(backend, "{{.State.StartedAt}}")
    master = int(stack.inspect(backend, "{{.State.Pid}}"))
    with open(f"/proc/{master}/cmdline", "rb") as cmdline:
        assert b"gunicorn" in cmdline.read()  # the container's first process is gunicorn's master
    os.kill(master, signal.SIGKILL)
    deadline = time.monotonic() + RESTART_TIMEOUT
    while stack.inspect(backend, "{{.State.StartedAt}}") == started:  # the restart policy at work
        assert time.monotonic() < deadline, f"{backend} was not restarted"
        time.sleep(0.5)
    with stack.health_checks():
        stack.wait_healthy(RESTART_TIMEOUT)
    stack.wait_serving(RESTART_TIMEOUT)
    assert stack.containers("backend") == [backend]  # the same container, restarted
    assert int(stack.inspect(backend, "{{.State.Pid}}")) != master
    assert_all_retrievable(site, stored)


def _readme_block(after: str) -> str:
    """The first ```sh block after a heading in README.md's production section."""
    text = README.read_text()
    block = text[text.index(after):].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "docker" in block
    return block


def _as_run_here(stack, block: str) -> str:
    """README's commands for this engine and project: `docker compose` is the compose client
    scripts/compose.py uses, `docker run` the engine's, and the volume names carry the project."""
    compose = " ".join(shlex.quote(part) for part in stack.compose_cmd())
    return (block.replace("docker compose", compose).replace("docker run", f"{stack.engine} run")
            .replace("anon-hosting_", f"{stack.project}_"))


def test_the_readme_backup_and_restore_bring_back_the_files(stack, tmp_path):
    site = stack.url()
    kept = random_bytes(100_000)
    kept_answer = upload(site, kept, "backed-up.bin")
    try:
        _run_readme_block(stack, "**Backups.**", tmp_path)
        assert (tmp_path / "backups" / "anon-hosting.tar.gz").stat().st_size > 0
        later = upload(site, b"after the backup", "later.bin")["token"]
        deleted = requests.post(f"{site}/api/files/delete", data={"token": kept_answer["owner_token"]}, timeout=30)
        assert deleted.status_code == 204 and retrieve(site, kept_answer["token"]).status_code == 404
        _run_readme_block(stack, "To restore", tmp_path)
    finally:
        stack.compose("start", "backend")  # a failed step above may have left it stopped
        with stack.health_checks():
            stack.wait_healthy()
        stack.wait_serving()
    restored = retrieve(site, kept_answer["token"])
    assert restored.status_code == 200 and sha256(restored.content) == sha256(kept)
    assert retrieve(site, later).status_code == 404  # the volumes hold the backup's state, nothing newer


def _run_readme_block(stack, heading, folder):
    subprocess.run(["bash", "-euc", _as_run_here(stack, _readme_block(heading))], cwd=folder, env=stack.env,
                   check=True, timeout=300)
    with stack.health_checks():
        stack.wait_healthy()
    stack.wait_serving()  # nginx's entrypoint follows the backend's new address
