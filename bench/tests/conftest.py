"""Tests of the tooling in the folder above, run by `make test`; they reuse the backend's test helpers (``tests``)."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "backend"), str(REPO / "bench"), str(REPO / "scripts")]
