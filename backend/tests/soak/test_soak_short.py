"""The short soak: bench/soak.py for one minute, 16 clients, files up to 8 MiB, against a real gunicorn.

The goals are the soak's own (zero lost or corrupted files, zero 5xx, zero
unexpected answers, no worker died, worker RSS not growing after the warm-up),
read back from its JSON report. RSS may grow by 48 MiB here, not 20: in one
minute on 2 shared cores a worker may meet its first few coinciding 8 MiB
transfers only in the second half, which raises its allocator's high-water mark
by a few buffers without any leak; a leak of anything per request (1,500 uploads
and 2,000 downloads a minute here) still shows, and the 10-minute run in
docs/reliability.md holds the 20 MiB line. The long run (64 clients, 10 minutes, files up
to 50 MiB) is in docs/reliability.md.
"""

import importlib.util
import json
import sys
from pathlib import Path

from ..integration.server import GunicornServer

REPO = Path(__file__).resolve().parents[3]


def load_soak():
    spec = importlib.util.spec_from_file_location("anon_hosting_bench_soak", REPO / "bench" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_one_minute_soak_meets_every_goal(tmp_path):
    soak = load_soak()
    report_path = tmp_path / "soak.json"
    with GunicornServer(tmp_path, workers=2) as server:
        server.wait_for_workers(2)
        code = soak.main([server.base_url, "--clients", "16", "--duration", "60", "--max-size", "8MiB",
                          "--server-pid", str(server.process.pid), "--rss-slack", "48MiB", "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["goals"] == {"no_lost_files": True, "no_corrupted_files": True, "no_5xx": True,
                               "no_unexpected_answers": True, "no_worker_died": True,
                               "rss_does_not_grow": True}, report["unexpected_samples"] or report["memory"]["workers"]
    assert report["files"]["uploaded"] > 100 and report["requests"] > 500
    assert report["endpoints"]["hostile"]["codes"].keys() == {"400"}
    assert code == 0
