"""Tests of the tooling in the folder above, run by `make test`; they reuse the backend's test helpers (``tests``)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "backend"), str(REPO / "bench"), str(REPO / "scripts")]

# The real server of test_readme_terminal.py, and the audit of its log for secrets, as the client tests have them.
from tests.client.conftest import log_audit, serve, server  # noqa: E402, F401 - fixtures
