"""The backend's tests. scripts/ goes on sys.path for stacklib, the one code that starts and samples our servers."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
