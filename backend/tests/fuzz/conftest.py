"""Hypothesis profiles for the fuzz suite, and an app whose every write can be checked.

Profiles: ``anon-fuzz`` (the normal test run: a bounded number of examples
per property, no deadline since CI shares 2 cores) and ``anon-fuzz-long`` (many
more), the latter chosen with ``ANON_HOSTING_LONG_FUZZ=1``. Every property here
is decorated with ``FUZZ``, the chosen profile, rather than loading it for the
whole session, so other hypothesis users (schemathesis in tests/contract) keep
their own settings. Counts of the last long run are in docs/reliability.md
(``pytest backend/tests/fuzz --hypothesis-show-statistics``).

``fuzz_app`` is one app per module on a temporary root holding ``files/``
(storage), ``private/`` (key set) and ``outside/`` (a sentinel file): a
``TreeSnapshot`` of that root, taken before and after, proves that a request
touched nothing, inside the storage folder or outside it.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from anon_hosting import create_app
from anon_hosting.storage.index import INDEX

from ..index_rows import INDEX_FILES, rows

LONG = os.environ.get("ANON_HOSTING_LONG_FUZZ") == "1"
settings.register_profile("anon-fuzz", max_examples=60, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("anon-fuzz-long", settings.get_profile("anon-fuzz"), max_examples=3000,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                 HealthCheck.data_too_large])
FUZZ = settings.get_profile("anon-fuzz-long" if LONG else "anon-fuzz")

NO_RATE_LIMITS = {"RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", "RATE_LIMIT_PASSPHRASES": "0",
                  "RATE_LIMIT_UPLOAD_PASSWORD": "0", "RATE_LIMIT_PASSPHRASE_REQUESTS": "0"}


class TreeSnapshot:
    """Every path under a root with its type, size, mode and mtime; the local index by its rows instead
    (tests/index_rows.py)."""

    def __init__(self, root: Path):
        self.root = root
        self.entries = self._take()

    def _take(self) -> dict[str, tuple]:
        entries = {}
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if name in INDEX_FILES:
                    entries[os.path.relpath(path, self.root)] = rows(Path(folder) / INDEX) if name == INDEX else ()
                    continue
                st = os.lstat(path)
                entries[os.path.relpath(path, self.root)] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        return entries

    def changes(self) -> dict[str, tuple]:
        now = self._take()
        return {path: (self.entries.get(path), now.get(path)) for path in set(self.entries) | set(now)
                if self.entries.get(path) != now.get(path)}


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    (root / "outside").mkdir()
    (root / "outside" / "sentinel.txt").write_text("must never change")
    return root


@pytest.fixture(scope="module")
def fuzz_app(fuzz_root):
    return create_app({
        "SECRET_KEY": "fuzz-secret-key-for-tests-only-0123456789abcdef",
        "ENCRYPTED_FILE_STORAGE": str(fuzz_root / "files"),
        "PRIVATE_FOLDER": str(fuzz_root / "private"),
        "MAX_UPLOAD_BYTES": str(1024 * 1024),
        **NO_RATE_LIMITS,
    })


@pytest.fixture(scope="module")
def fuzz_client(fuzz_app):
    return fuzz_app.test_client()
