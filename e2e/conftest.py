"""End-to-end fixtures: the real stack (gunicorn + nginx) and Debian's Chromium.

The stack runs once per session on free loopback ports with throw-away
storage, a throw-away key set and ANON_HOSTING_ENV_FILE=/dev/null, so a
developer's .env is never read. MAX_UPLOAD_BYTES is 256 MiB: the 200 MB
journey fits, and "too large" needs only a sparse 256 MiB + 1 file.

Every browser and request here comes from 127.0.0.1, so this stack runs
with rate limits out of reach (NO_NGINX_LIMITS, app limits per minute
raised): the journeys test the page, not the limits. test_rate_limit.py
starts its own stacks with tight ones.

E2E_NGINX=0 runs the same journeys against gunicorn alone (FRONTEND_DIR),
the fallback scripts/stack.py uses where nginx is not installed.

E2E_BASE_URL=http://host:port runs them against a site that is already up
instead (`make compose-test`: the compose stack, with deploy/test-settings.yml
giving it the same upload limit and rate limits as the stack here).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

from stack import NO_NGINX_LIMITS, Stack  # noqa: E402

# A busy 2-core machine can take more than expect()'s default 5 s.
expect.set_options(timeout=15_000)

MAX_UPLOAD_BYTES = 256 * 1024 * 1024
ARTIFACTS = REPO / "e2e" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class RunningSite:
    """A site started elsewhere, seen through its URL (nginx in front, as in production)."""

    use_nginx = True

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.web_port = urlsplit(self.url).port or 80


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    if os.environ.get("E2E_BASE_URL"):
        yield RunningSite(os.environ["E2E_BASE_URL"])
        return
    root = tmp_path_factory.mktemp("stack")
    env = {
        "ANON_HOSTING_ENV_FILE": "/dev/null",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "WEBSITE_NAME": "Anon Hosting",
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "DEFAULT_EXPIRES_IN": "604800",
        "MAX_EXPIRES_IN": "2592000",
        "CORS_ORIGINS": "",
        "RATE_LIMIT_UPLOADS": "10000/minute",
        "RATE_LIMIT_TOKENS": "10000/minute",
    }
    running = Stack(
        storage_dir=root / "files",
        private_dir=root / "private",
        workdir=root / "work",
        env=env,
        nginx_limits=NO_NGINX_LIMITS,
        use_nginx=False if os.environ.get("E2E_NGINX") == "0" else None,
    )
    running.start(timeout=60)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def base_url(stack):
    return stack.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "accept_downloads": True,
        "viewport": {"width": 1280, "height": 900},
        "locale": "en-GB",
        "timezone_id": "UTC",
    }


@pytest.fixture
def page(page):
    """pytest-playwright's page, with a file-chooser listener kept for its whole life.

    The listener keeps Playwright's chooser interception on before any key
    press or click. With `page.expect_file_chooser` alone, Playwright turns
    interception on and off per wait, with messages it does not wait for.
    Under load a press could reach Chromium first; headless Chromium then
    cancels the chooser (the input gets `cancel`) and no `filechooser` event
    comes. Interleaved runs on 2 busy cores lost the second chooser of a page
    that way in 4 of 40 without this listener and in 0 of 40 with it.
    """
    page.on("filechooser", lambda chooser: None)
    return page


@pytest.fixture
def clipboard(context, base_url):
    """Let the page write to (and the test read from) the clipboard."""
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
