"""Fixtures for the integration tests: real gunicorn servers and the end-of-session log audit.

``serve(name, **options)`` is a context manager that starts a ``GunicornServer``
in a fresh temp folder and registers it with the audit; ``server`` is the
module's default server (2 workers, default limits). When the session ends,
every server's log is searched for every token it issued, the tokens' parts and
file keys, and its SECRET_KEY (see log_audit.py); a hit fails the session.
With INTEGRATION_SITE_URL set, both yield the compose site instead, and only the
tests marked ``site`` run (site.py).
"""

import contextlib
import os
import shutil

import pytest
from stack import Stack

from .log_audit import LogAudit
from .server import GunicornServer, random_secret_key
from .site import ComposeSite

SITE_URL = os.environ.get("INTEGRATION_SITE_URL")


def pytest_configure(config):
    config.addinivalue_line("markers", "site: needs nothing but HTTP to the site, so it also runs against compose")


def pytest_collection_modifyitems(config, items):
    if SITE_URL:
        items[:] = [item for item in items if item.get_closest_marker("site")]


@pytest.fixture(scope="session", autouse=True)
def log_audit():
    audit = LogAudit()
    yield audit
    silent = audit.silent_logs()
    assert not silent, f"these server logs hold no access log line, so searching them proves nothing: {silent}"
    malformed = audit.malformed_json_logs()
    assert not malformed, "LOG_FORMAT=json lines that are not one JSON object:\n" + "\n".join(malformed)
    leaks = audit.leaks()
    assert not leaks, "secrets reached the server log:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def serve(tmp_path_factory, log_audit):
    if SITE_URL:
        site = ComposeSite(SITE_URL)
        log_audit.watch(site)
        return lambda name="server", **options: contextlib.nullcontext(site)

    @contextlib.contextmanager
    def serve(name: str = "server", **options):
        server = GunicornServer(tmp_path_factory.mktemp(name), **options)
        log_audit.watch(server)
        try:
            with server:
                yield server
        finally:
            shutil.rmtree(server.storage_dir, ignore_errors=True)  # blobs: up to hundreds of MiB
    return serve


@pytest.fixture(scope="module")
def server(serve):
    with serve() as server:
        yield server


@pytest.fixture(scope="session")
def serve_stack(tmp_path_factory):
    """``serve_stack(name)``: scripts/stack.py's nginx + gunicorn in a fresh folder (a skip without nginx)."""
    @contextlib.contextmanager
    def serve_stack(name: str):
        if shutil.which("nginx") is None:
            pytest.skip("nginx is not installed (make system-deps)")
        root = tmp_path_factory.mktemp(name)
        env = {"ANON_HOSTING_ENV_FILE": "/dev/null", "SECRET_KEY": random_secret_key()}
        with Stack(storage_dir=root / "files", private_dir=root / "private", workdir=root / "work", env=env) as running:
            yield running
        shutil.rmtree(root / "files", ignore_errors=True)  # blobs: up to hundreds of MiB
    return serve_stack
