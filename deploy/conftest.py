"""Fixtures for the checks of the running compose stack (`make compose-test`).

``stack`` is the project `make compose-up` started, driven through scripts/compose.py, with
deploy/test-settings.yml applied over docker-compose.yml (the Makefile applies it before the
e2e journeys). The modules run in file-name order, and it matters: test_hardening and test_logs
look at the containers the journeys have just used (a recreated container's log starts empty);
test_operations, test_persistence, test_real_ip and test_replicas rotate keys, stop, rebuild,
kill, reconfigure and rescale them; test_s3_profile runs a project of its own beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SETTINGS = Path(__file__).with_name("test-settings.yml")
sys.path.insert(0, str(REPO / "scripts"))

from compose import Compose  # noqa: E402


@pytest.fixture(scope="session")
def stack() -> Compose:
    compose = Compose([SETTINGS])
    compose.prepare()
    assert compose.containers("backend"), "no backend container is running: make compose-up first"
    return compose


@pytest.fixture(scope="session")
def site(stack) -> str:
    return stack.url()
