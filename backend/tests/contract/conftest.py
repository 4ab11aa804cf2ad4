"""Real-gunicorn fixtures for the contract tests, shared with tests/integration.

``serve`` and the end-of-session ``log_audit`` (no token may reach a server
log) come from the integration suite; ``server`` here is a module's default
server with a 64 MiB upload limit.
"""

import pytest

from ..integration.conftest import log_audit, serve  # noqa: F401  (fixtures)

MAX_UPLOAD_BYTES = 64 << 20


@pytest.fixture(scope="module")
def server(serve):  # noqa: F811 (the imported fixture)
    with serve("contract", max_upload_bytes=MAX_UPLOAD_BYTES) as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """How many requests the fuzzing sent, per operation (see test_schemathesis.py)."""
    from .test_schemathesis import CASES, LONG
    if CASES:
        terminalreporter.write_sep("-", f"schemathesis ({'long' if LONG else 'short'} budget): "
                                        f"{sum(CASES.values())} requests")
        for label, count in sorted(CASES.items()):
            terminalreporter.write_line(f"  {count:6d}  {label}")
