"""The one module that reads the environment.

Contract: ``load(test_config=None)`` returns a validated, immutable ``Config``
or raises ``ConfigError`` with a message a person can act on. Without a test
config, values come from the process environment after loading a ``.env`` file
(``ANON_HOSTING_ENV_FILE``, default ``.env`` in the working directory; existing
environment variables win). With a test config, only that mapping and the
defaults are used, so tests never see a developer's ``.env``.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

from .errors import ConfigError

EXAMPLE_SECRET_KEY = "change-me-to-a-long-random-string"
MIN_SECRET_KEY_LENGTH = 32

DEFAULTS = {
    "WEBSITE_NAME": "Anon Hosting",
    "ENCRYPTED_FILE_STORAGE": "./data/files",
    "PRIVATE_FOLDER": "./data/private",
    "MAX_UPLOAD_BYTES": str(2 * 1024**3),
    "DEFAULT_EXPIRES_IN": str(7 * 24 * 3600),
    "MAX_EXPIRES_IN": str(30 * 24 * 3600),
    "CORS_ORIGINS": "",
    "FRONTEND_DIR": "",
    "UPLOAD_PASSWORD": "",
    "SWEEP_INTERVAL": "300",
}


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


def load(test_config: dict | None = None) -> Config:
    if test_config is None:
        load_dotenv(os.environ.get("ANON_HOSTING_ENV_FILE", ".env"), override=False)
        source = {**DEFAULTS, **os.environ}
        testing = False
    else:
        source = {**DEFAULTS, **{k: str(v) for k, v in test_config.items()}}
        testing = True
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
    )
    _validate(config)
    return config


def _whole_number(source: dict, name: str) -> int:
    raw = source[name].strip()
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.")
    return int(raw)


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
    if config.frontend_dir is not None and not (config.frontend_dir / "index.html").is_file():
        raise ConfigError(f"FRONTEND_DIR has no index.html: {config.frontend_dir}")
