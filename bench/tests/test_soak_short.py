"""The short soak: bench/soak.py for one minute, 16 clients, files up to 8 MiB, against a real gunicorn.

The goals are the soak's own (zero lost or corrupted files, zero 5xx, zero
unexpected answers, no worker died, and each worker's idle RSS after the load
within 20 MiB of its idle RSS before it and of its first-half high), read back
from its JSON report. The long run (64 clients, 10 minutes, files up to 50 MiB)
is in docs/reliability.md.
"""

import json

import soak
from tests.integration.server import GunicornServer


def test_one_minute_soak_meets_every_goal(tmp_path):
    report_path = tmp_path / "soak.json"
    with GunicornServer(tmp_path, workers=2) as server:
        server.wait_for_workers(2)
        code = soak.main([server.base_url, "--clients", "16", "--duration", "60", "--max-size", "8MiB",
                          "--server-pid", str(server.process.pid), "--json", str(report_path)])
    report = json.loads(report_path.read_text())
    assert report["goals"] == {"no_lost_files": True, "no_corrupted_files": True, "no_5xx": True,
                               "no_unexpected_answers": True, "no_worker_died": True,
                               "rss_does_not_grow": True}, report["unexpected_samples"] or report["memory"]["workers"]
    assert report["files"]["uploaded"] > 100 and report["requests"] > 500
    assert report["endpoints"]["hostile"]["codes"].keys() == {"400"}
    assert code == 0
