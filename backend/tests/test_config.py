"""Configuration: defaults, validation, fail-fast messages, and the .env file."""

import pytest

from anon_hosting import config
from anon_hosting.errors import ConfigError

GOOD = "x" * 40


def load_env(monkeypatch, tmp_path, env_file_text="", **env):
    for name in list(config.DEFAULTS) + ["SECRET_KEY"]:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(env_file_text)
    monkeypatch.setenv("ANON_HOSTING_ENV_FILE", str(env_file))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return config.load()


def test_defaults(monkeypatch, tmp_path):
    c = load_env(monkeypatch, tmp_path, SECRET_KEY=GOOD)
    assert c.max_upload_bytes == 2 * 1024**3
    assert (c.default_expires_in, c.max_expires_in) == (7 * 86400, 30 * 86400)
    assert c.cors_origins == () and c.frontend_dir is None and not c.testing
    assert c.website_name == "Anon Hosting"


def test_values_come_from_the_env_file_and_the_environment_wins(monkeypatch, tmp_path):
    c = load_env(monkeypatch, tmp_path, f"SECRET_KEY={GOOD}\nWEBSITE_NAME=From file\nMAX_UPLOAD_BYTES=10\n",
                 MAX_UPLOAD_BYTES="20", CORS_ORIGINS="https://a.example, https://b.example")
    assert (c.secret_key, c.website_name, c.max_upload_bytes) == (GOOD, "From file", 20)
    assert c.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize("env,message", [
    ({}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": config.EXAMPLE_SECRET_KEY}, "example value"),
    ({"SECRET_KEY": "short"}, "at least 32"),
    ({"SECRET_KEY": GOOD, "MAX_UPLOAD_BYTES": "-1"}, "MAX_UPLOAD_BYTES"),
    ({"SECRET_KEY": GOOD, "MAX_UPLOAD_BYTES": "2GB"}, "MAX_UPLOAD_BYTES"),
    ({"SECRET_KEY": GOOD, "DEFAULT_EXPIRES_IN": "99", "MAX_EXPIRES_IN": "10"}, "DEFAULT_EXPIRES_IN"),
    ({"SECRET_KEY": GOOD, "ENCRYPTED_FILE_STORAGE": "/x", "PRIVATE_FOLDER": "/x"}, "different folders"),
    ({"SECRET_KEY": GOOD, "FRONTEND_DIR": "/nonexistent"}, "FRONTEND_DIR"),
    ({"SECRET_KEY": GOOD, "INSTANCE_ID": "a b"}, "INSTANCE_ID"),
    ({"SECRET_KEY": GOOD, "INSTANCE_ID": "x" * 65}, "INSTANCE_ID"),
])
def test_bad_configuration_fails_with_a_clear_message(monkeypatch, tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_env(monkeypatch, tmp_path, **env)


def test_test_config_ignores_the_environment_and_allows_short_keys(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "5")
    c = config.load({"SECRET_KEY": "short"})
    assert c.testing and c.max_upload_bytes == 2 * 1024**3


def test_storage_defaults_to_the_local_folder(monkeypatch, tmp_path):
    c = load_env(monkeypatch, tmp_path, SECRET_KEY=GOOD, S3_BUCKET="ignored-while-local")
    assert (c.storage_backend, c.s3_endpoint_url, c.s3_prefix) == ("local", None, "")


def test_s3_storage_settings(monkeypatch, tmp_path):
    c = load_env(monkeypatch, tmp_path, SECRET_KEY=GOOD, STORAGE_BACKEND="S3", S3_BUCKET="anon-files",
                 S3_ENDPOINT_URL="http://minio:9000", S3_PREFIX="anon-hosting/")
    assert (c.storage_backend, c.s3_bucket, c.s3_endpoint_url, c.s3_prefix) == (
        "s3", "anon-files", "http://minio:9000", "anon-hosting/")


@pytest.mark.parametrize("env,message", [
    ({"STORAGE_BACKEND": "gcs"}, "STORAGE_BACKEND must be local or s3"),
    ({"STORAGE_BACKEND": "s3"}, "STORAGE_BACKEND=s3 needs S3_BUCKET"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "Bad_Bucket"}, "S3_BUCKET must be a bucket name"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "ok-bucket", "S3_ENDPOINT_URL": "minio:9000"}, "S3_ENDPOINT_URL"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "ok-bucket", "S3_PREFIX": "no-slash"}, "S3_PREFIX"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": "ok-bucket", "S3_PREFIX": "/rooted/"}, "S3_PREFIX"),
])
def test_bad_storage_settings_fail_with_a_clear_message(monkeypatch, tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_env(monkeypatch, tmp_path, SECRET_KEY=GOOD, **env)
