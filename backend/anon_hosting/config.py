"""The one module that reads the environment.

Contract: ``load(test_config=None)`` returns a validated, immutable ``Config``
or raises ``ConfigError`` with a message a person can act on. Without a test
config, values come from the process environment after loading a ``.env`` file
(``ANON_HOSTING_ENV_FILE``, default ``.env`` in the working directory; existing
environment variables win). With a test config, only that mapping and the
defaults are used, so tests never see a developer's ``.env``.
"""

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from .errors import ConfigError

EXAMPLE_SECRET_KEY = "change-me-to-a-long-random-string"  # noqa: S105 - the value we refuse
MIN_SECRET_KEY_LENGTH = 32

DEFAULTS = {
    "WEBSITE_NAME": "Anon Hosting",
    "ENCRYPTED_FILE_STORAGE": "./data/files",
    "PRIVATE_FOLDER": "./data/private",
    "MAX_UPLOAD_BYTES": str(2 * 1024**3),
    "MAX_BUNDLE_FILES": "1000",
    "DEFAULT_EXPIRES_IN": str(7 * 24 * 3600),
    "MAX_EXPIRES_IN": str(30 * 24 * 3600),
    "CORS_ORIGINS": "",
    "FRONTEND_DIR": "",
    "UPLOAD_PASSWORD": "",
    "SWEEP_INTERVAL": "300",
    "RATE_LIMIT_UPLOADS": "30/minute",
    "RATE_LIMIT_TOKENS": "120/minute",
    "RATE_LIMIT_PASSPHRASES": "20/10minutes",
    "RATE_LIMIT_PASSPHRASE_REQUESTS": "20/minute",
    "RATE_LIMIT_UPLOAD_PASSWORD": "10/10minutes",
    "RATE_LIMIT_BUNDLE_FILES": "2000/minute",
    "TRUSTED_PROXIES": "0",
    "TRUSTED_PROXY_ADDRS": "127.0.0.1,::1",
    "STORAGE_BACKEND": "local",
    "S3_BUCKET": "",
    "S3_ENDPOINT_URL": "",
    "S3_PREFIX": "",
    "INSTANCE_ID": "",
    "LOG_FORMAT": "text",
    "UPLOAD_SESSION_TTL": str(24 * 3600),
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*", re.ASCII)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MAX_TRUSTED_PROXIES = 5
STORAGE_BACKENDS = ("local", "s3")
LOG_FORMATS = ("text", "json")
_INSTANCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", re.ASCII)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)  # S3's bucket naming rules, in short


@dataclass(frozen=True)
class Config:
    website_name: str
    storage_dir: Path
    private_dir: Path
    secret_key: str
    max_upload_bytes: int
    default_expires_in: int
    max_expires_in: int
    cors_origins: tuple[str, ...]
    frontend_dir: Path | None
    upload_password: str
    sweep_interval: int
    testing: bool
    # (requests, seconds) per client IP and process, or None when off; see http/ratelimit.py
    rate_limit_uploads: tuple[int, int] | None = None
    rate_limit_tokens: tuple[int, int] | None = None
    rate_limit_passphrases: tuple[int, int] | None = None  # failed attempts, over all files
    rate_limit_upload_password: tuple[int, int] | None = None  # failed attempts
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-For is believed
    # the addresses (IPs, networks, or host names resolved at run time) X-Forwarded-For is believed from
    trusted_proxy_addrs: tuple[str, ...] = ("127.0.0.1", "::1")
    rate_limit_passphrase_requests: tuple[int, int] | None = None  # every request carrying a passphrase
    # Where blobs and states live: "local" (storage_dir) or "s3" (the bucket below; credentials and region
    # come from the standard AWS_* variables, which boto3 reads itself)
    storage_backend: str = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str | None = None  # None = AWS itself
    s3_prefix: str = ""
    instance_id: str = ""  # echoed by /api/health, so whoever started this server can tell it from another
    log_format: str = "text"  # "text", or "json": one JSON object per log line (anon_hosting.logs)
    max_bundle_files: int = 1000  # files in one upload (a bundle), whose total is held to max_upload_bytes
    upload_session_ttl: int = 24 * 3600  # seconds a resumable upload lives after its last PATCH, or its completion
    # creations of bundle members' resumable uploads (no token; the join counts as the upload)
    rate_limit_bundle_files: tuple[int, int] | None = None


def load(test_config: dict | None = None) -> Config:
    source, testing = _source(test_config), test_config is not None
    config = Config(
        website_name=source["WEBSITE_NAME"].strip() or DEFAULTS["WEBSITE_NAME"],
        storage_dir=Path(source["ENCRYPTED_FILE_STORAGE"]).resolve(),
        private_dir=Path(source["PRIVATE_FOLDER"]).resolve(),
        secret_key=source.get("SECRET_KEY", ""),
        max_upload_bytes=_positive_int(source, "MAX_UPLOAD_BYTES"),
        default_expires_in=_positive_int(source, "DEFAULT_EXPIRES_IN"),
        max_expires_in=_positive_int(source, "MAX_EXPIRES_IN"),
        cors_origins=tuple(o.strip() for o in source["CORS_ORIGINS"].split(",") if o.strip()),
        frontend_dir=Path(source["FRONTEND_DIR"]).resolve() if source["FRONTEND_DIR"] else None,
        upload_password=source["UPLOAD_PASSWORD"],
        sweep_interval=_whole_number(source, "SWEEP_INTERVAL"),
        testing=testing,
        rate_limit_uploads=_rate(source, "RATE_LIMIT_UPLOADS"),
        rate_limit_tokens=_rate(source, "RATE_LIMIT_TOKENS"),
        rate_limit_passphrases=_rate(source, "RATE_LIMIT_PASSPHRASES"),
        rate_limit_upload_password=_rate(source, "RATE_LIMIT_UPLOAD_PASSWORD"),
        trusted_proxies=_whole_number(source, "TRUSTED_PROXIES"),
        trusted_proxy_addrs=_proxy_addrs(source, "TRUSTED_PROXY_ADDRS"),
        rate_limit_passphrase_requests=_rate(source, "RATE_LIMIT_PASSPHRASE_REQUESTS"),
        storage_backend=source["STORAGE_BACKEND"].strip().lower(),
        s3_bucket=source["S3_BUCKET"].strip(),
        s3_endpoint_url=source["S3_ENDPOINT_URL"].strip() or None,
        s3_prefix=source["S3_PREFIX"].strip(),
        instance_id=source["INSTANCE_ID"].strip(),
        log_format=_log_format(source),
        max_bundle_files=_positive_int(source, "MAX_BUNDLE_FILES"),
        upload_session_ttl=_positive_int(source, "UPLOAD_SESSION_TTL"),
        rate_limit_bundle_files=_rate(source, "RATE_LIMIT_BUNDLE_FILES"),
    )
    _validate(config)
    return config


def log_format(test_config: dict | None = None) -> str:
    """LOG_FORMAT alone, for gunicorn's logger, which is set up before the rest is loaded and checked."""
    return _log_format(_source(test_config))


def _source(test_config: dict | None) -> dict:
    if test_config is None:
        load_dotenv(os.environ.get("ANON_HOSTING_ENV_FILE", ".env"), override=False)
        return {**DEFAULTS, **os.environ}
    return {**DEFAULTS, **{k: str(v) for k, v in test_config.items()}}


def _log_format(source: dict) -> str:
    value = source["LOG_FORMAT"].strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be text or json, got {source['LOG_FORMAT']!r}.")
    return value


def _whole_number(source: dict, name: str) -> int:
    raw = source[name].strip()
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.")
    return int(raw)


def _rate(source: dict, name: str) -> tuple[int, int] | None:
    """Parse a rate like 30/minute, 10/10minutes or 5/hour; 0 or empty turns the limit off."""
    raw = source[name].strip()
    if raw in ("", "0"):
        return None
    match = _RATE.fullmatch(raw)
    if match is None or int(match.group(1)) == 0 or match.group(2) == "0":
        raise ConfigError(f"{name} must look like 30/minute or 10/10minutes (0 = off), got {raw!r}.")
    return int(match.group(1)), int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3)]


def _proxy_addrs(source: dict, name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses, networks (10.0.0.0/8) or host names (nginx, in compose)."""
    entries = tuple(e.strip() for e in source[name].split(",") if e.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if not _HOST.fullmatch(entry):
                raise ConfigError(f"{name} must list IP addresses, networks or host names, got {entry!r}.") from None
    return entries


def _positive_int(source: dict, name: str) -> int:
    value = _whole_number(source, name)
    if value <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {value}.")
    return value


def _validate(config: Config) -> None:
    if not config.secret_key:
        raise ConfigError("SECRET_KEY is not set. Put a long random value in .env (make run does this for you).")
    if not config.testing:
        if config.secret_key == EXAMPLE_SECRET_KEY:
            raise ConfigError("SECRET_KEY is still the example value from .env.example. Generate a random one.")
        if len(config.secret_key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long.")
    if config.default_expires_in > config.max_expires_in:
        raise ConfigError("DEFAULT_EXPIRES_IN must not be larger than MAX_EXPIRES_IN.")
    if config.storage_dir == config.private_dir:
        raise ConfigError("ENCRYPTED_FILE_STORAGE and PRIVATE_FOLDER must be different folders.")
    if config.trusted_proxies > MAX_TRUSTED_PROXIES:
        raise ConfigError(f"TRUSTED_PROXIES is the number of proxies in front (0-{MAX_TRUSTED_PROXIES}), "
                          f"got {config.trusted_proxies}.")
    if config.instance_id and not _INSTANCE_ID.fullmatch(config.instance_id):
        raise ConfigError(f"INSTANCE_ID must be 1-64 of A-Z, a-z, 0-9, _ and -, got {config.instance_id!r}.")
    if config.frontend_dir is not None and not (config.frontend_dir / "index.html").is_file():
        raise ConfigError(f"FRONTEND_DIR has no index.html: {config.frontend_dir}")
    _validate_storage(config)


def _validate_storage(config: Config) -> None:
    if config.storage_backend not in STORAGE_BACKENDS:
        raise ConfigError(f"STORAGE_BACKEND must be local or s3, got {config.storage_backend!r}.")
    if config.storage_backend != "s3":
        return
    if not config.s3_bucket:
        raise ConfigError("STORAGE_BACKEND=s3 needs S3_BUCKET, the name of an existing bucket. Credentials come "
                          "from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another standard AWS source).")
    if not _BUCKET.fullmatch(config.s3_bucket):
        raise ConfigError(f"S3_BUCKET must be a bucket name (3-63 of a-z, 0-9, dot, dash), got {config.s3_bucket!r}.")
    if config.s3_endpoint_url and not config.s3_endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"S3_ENDPOINT_URL must start with http:// or https://, got {config.s3_endpoint_url!r}.")
    if config.s3_prefix and (not config.s3_prefix.endswith("/") or config.s3_prefix.startswith("/")
                             or not config.s3_prefix.isascii() or not config.s3_prefix.isprintable()):
        raise ConfigError(f"S3_PREFIX must be empty or a folder like anon-hosting/ (ending in /, not starting "
                          f"with one), got {config.s3_prefix!r}.")
