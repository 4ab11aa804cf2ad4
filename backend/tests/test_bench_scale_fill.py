"""bench/scale_fill.py: the files it puts are real stored files, some as blob files, and the sweep sees exactly
the expired ones."""

import importlib.util
import sys
import time
from pathlib import Path

from anon_hosting.keys import KeyRing
from anon_hosting.service import FileService, Limits
from anon_hosting.storage.local import LocalStorage

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _scale_fill():
    spec = importlib.util.spec_from_file_location("anon_hosting_bench_scale_fill", BENCH / "scale_fill.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fill_puts_indexed_files_and_the_sweep_removes_only_the_expired(tmp_path):
    scale_fill, now = _scale_fill(), time.time()
    store = LocalStorage(tmp_path / "files")
    assert scale_fill.fill(store, 60, expired=7, now=now) == 60
    names = list(store.names())
    assert len(names) == 60
    assert len(list(store.expired(now))) == 7
    assert sum(1 for path in (tmp_path / "files").iterdir() if path.name in names) == 60 // scale_fill.BIG_EVERY
    service = FileService(store, KeyRing(tmp_path / "private", "k" * 40), Limits(1 << 20, 3600, 86400))
    assert service.sweep(now=now) == 7
    assert len(list(store.names())) == 53 and list(store.expired(now)) == []
