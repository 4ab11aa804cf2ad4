"""Stored files survive `down` and `up`, an image rebuild, and a killed gunicorn master."""

import os
import signal
import time

import pytest

from helpers import random_bytes, retrieve, sha256, upload

RESTART_TIMEOUT = 120


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
    stack.build(no_cache=True, services=["backend"])
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
    assert stack.containers("backend") == [backend]  # the same container, restarted
    assert int(stack.inspect(backend, "{{.State.Pid}}")) != master
    assert_all_retrievable(site, stored)
