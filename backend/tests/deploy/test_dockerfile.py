"""What running the images cannot show; deploy/ (`make compose-test`) checks the rest on the stack.

- Every pip step is hash-checked against a lock, and no secret or build argument is baked in.
- nginx/docker/entrypoint.sh, in place of the official nginx image's envsubst step, renders the
  templates with the variables that are set and leaves nginx's own $variables alone.
- seaweedfs/entrypoint.sh refuses to start without a complete login, or with one it cannot quote.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = [ROOT / "backend" / "Dockerfile", ROOT / "nginx" / "Dockerfile", ROOT / "seaweedfs" / "Dockerfile"]


def instructions(dockerfile: Path) -> list[str]:
    """One instruction per line: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_stage_starts_from_debian_bookworm_slim(dockerfile):
    """Directly, or from an earlier stage of the same file."""
    stages = {"debian:bookworm-slim"}
    for line in instructions(dockerfile):
        if line.upper().startswith("FROM "):
            words = line.split()
            assert words[1] in stages, line
            if len(words) == 4 and words[2].upper() == "AS":
                stages.add(words[3])


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_pip_only_installs_hash_checked_locks(dockerfile):
    for line in instructions(dockerfile):
        if re.search(r"\bpip (install|download)\b", line):
            assert "--require-hashes" in line and "requirements.lock" in line, line


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_secret_or_build_argument_is_baked_in(dockerfile):
    lines = instructions(dockerfile)
    assert not [i for i in lines if i.upper().startswith("ARG ")]
    assert not [i for i in lines if "SECRET_KEY" in i or "AWS_" in i]
    # The one build secret is mounted for a single RUN and never copied or exported.
    assert all("ca_bundle" not in i for i in lines if not i.upper().startswith("RUN "))


def _render(tmp_path, template_text, **env):
    templates, conf = tmp_path / "templates", tmp_path / "out" / "conf.d"
    templates.mkdir()
    (templates / "site.conf.template").write_text(template_text)
    result = subprocess.run(
        ["sh", str(ROOT / "nginx" / "docker" / "entrypoint.sh"), "cat", str(conf / "site.conf")],
        env={"PATH": os.environ["PATH"], "NGINX_TEMPLATE_DIR": str(templates), "NGINX_CONF_DIR": str(conf), **env},
        capture_output=True, text=True, timeout=30, check=False)
    return result


def test_nginx_entrypoint_renders_set_variables_and_keeps_nginx_ones(tmp_path):
    result = _render(tmp_path, "server ${BACKEND_ADDR}; root ${FRONTEND_ROOT}; ${NOT_SET}; $host $uri\n",
                     BACKEND_ADDR="backend:8000", FRONTEND_ROOT="/srv/page")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "server backend:8000; root /srv/page; ${NOT_SET}; $host $uri\n"  # then runs "$@"
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert (tmp_path / "out" / folder).is_dir()


def test_nginx_entrypoint_renders_the_real_template(tmp_path):
    template = (ROOT / "nginx" / "templates" / "default.conf.template").read_text()
    dockerfile_env = dict(re.findall(r"(\w+)=(\S+)", next(i for i in instructions(DOCKERFILES[1])
                                                         if i.startswith("ENV LISTEN_PORT"))))
    result = _render(tmp_path, template, **dockerfile_env)
    assert result.returncode == 0, result.stderr
    assert "${" not in re.sub(r"(?m)^#.*$", "", result.stdout)  # every placeholder has a default
    assert "server backend:8000;" in result.stdout and "$binary_remote_addr" in result.stdout


def test_nginx_entrypoint_trusts_only_the_proxy_named_in_real_ip_from(tmp_path):
    result = _render(tmp_path, "x\n", REAL_IP_FROM="10.89.0.0/16, 192.0.2.1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "conf.d" / "real-ip.conf").read_text() == (
        "set_real_ip_from 10.89.0.0/16;\nset_real_ip_from 192.0.2.1;\nreal_ip_header X-Forwarded-For;\n")


def test_nginx_entrypoint_refuses_a_real_ip_from_that_is_not_addresses(tmp_path):
    result = _render(tmp_path, "x\n", REAL_IP_FROM="10.0.0.1; include /etc/passwd")
    assert result.returncode == 1 and "REAL_IP_FROM" in result.stderr
    assert not (tmp_path / "out" / "conf.d" / "real-ip.conf").exists()


def test_nginx_entrypoint_without_real_ip_from_trusts_no_header(tmp_path):
    assert _render(tmp_path, "x\n").returncode == 0
    assert not (tmp_path / "out" / "conf.d" / "real-ip.conf").exists()


LOGIN = {"AWS_ACCESS_KEY_ID": "anon-hosting", "AWS_SECRET_ACCESS_KEY": "s3cret-0123456789", "S3_BUCKET": "files"}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("AWS_ACCESS_KEY_ID", "", "set AWS_ACCESS_KEY_ID"),
    ("AWS_SECRET_ACCESS_KEY", "", "set AWS_SECRET_ACCESS_KEY"),
    ("S3_BUCKET", "", "set S3_BUCKET"),
    ("AWS_SECRET_ACCESS_KEY", 'quote"brace}', "may only hold"),
])
def test_seaweedfs_entrypoint_refuses_an_incomplete_or_unquotable_login(name, value, message):
    result = subprocess.run(["sh", str(ROOT / "seaweedfs" / "entrypoint.sh")],
                            env={"PATH": "/usr/bin:/bin", **LOGIN, name: value},
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1 and message in result.stderr
