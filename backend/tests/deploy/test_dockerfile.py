"""Static checks of backend/Dockerfile and .dockerignore (no engine can build it here).

They pin the properties that matter: a pinned base image, hash-checked deps,
a fixed non-root uid, a health check, no baked-in secret, and a build context
that holds exactly what the Dockerfile copies.
"""

import re
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]
DOCKERFILE = (BACKEND / "Dockerfile").read_text()
# Joined continuation lines, comments dropped: one instruction per line.
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def _args(keyword):
    return [i.split(None, 1)[1] for i in INSTRUCTIONS if i.split(None, 1)[0].upper() == keyword]


def test_base_image_is_a_pinned_python_311_slim():
    (image,) = _args("FROM")
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image)


def test_dependencies_are_hash_checked_from_the_runtime_lock():
    pip_runs = [r for r in _args("RUN") if "pip install" in r]
    assert pip_runs and all("--require-hashes" in r and "requirements.lock" in r for r in pip_runs)


def test_runs_as_fixed_non_root_user():
    assert _args("USER")[-1].split(":")[0] == "10001"


def test_storage_folders_belong_to_that_user():
    setup = " ".join(_args("RUN"))
    assert "/data/files" in setup and "/data/private" in setup
    assert "chown app:app /data/files /data/private" in setup
    assert "--uid 10001" in setup


def test_healthcheck_uses_api_health():
    (check,) = _args("HEALTHCHECK")
    assert "urllib" in check and "/api/health" in check


def test_command_serves_the_app_factory_with_gunicorn():
    (cmd,) = _args("CMD")
    assert '"gunicorn", "-c", "gunicorn.conf.py", "-b", "0.0.0.0:8000"' in cmd
    assert '"anon_hosting:create_app()"' in cmd


def test_no_secret_is_baked_in():
    assert not any("SECRET" in i for i in INSTRUCTIONS)
    assert not _args("ARG")


def test_copied_files_exist_and_pass_dockerignore():
    ignore = (BACKEND / ".dockerignore").read_text().splitlines()
    assert ignore.index("*") < ignore.index("!requirements.lock")  # allow-list: the rest stays out
    for copy in _args("COPY"):
        *sources, _dest = copy.split()
        for source in sources:
            assert (BACKEND / source).exists(), f"COPY source {source} missing in backend/"
            assert f"!{source.rstrip('/')}" in {line.rstrip("/") for line in ignore}
