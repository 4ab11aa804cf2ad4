"""The soak's own judgement, on made-up samples: what counts as RSS growth and as a lease still open."""

import json

import pytest
import requests

from soak_report import WorkerMonitor, lease_still_open

MIB = 1024 * 1024


def monitor_with(rows):
    monitor = WorkerMonitor(None)
    monitor.rows[1234] = [(t, int(mib * MIB), 9, 12) for t, mib in rows]
    return monitor.report(warmup=300, slack=20 * MIB)["workers"]["1234"]


@pytest.mark.parametrize(("rows", "grew"), [
    ([(0, 40), (100, 100), (400, 95), (612, 46)], False),  # busy, then back to idle: no growth
    ([(0, 40), (100, 70), (400, 75), (612, 70)], True),    # idle at the end 30 MiB above idle at the start
    ([(0, 40), (100, 55), (400, 140), (612, 120)], True),  # kept climbing after the warm-up
])
def test_rss_grows_only_when_the_idle_end_is_above_the_idle_start_or_the_warm_up_high(rows, grew):
    assert monitor_with(rows)["grew"] is grew


def answer(status, body, content_type="application/json"):
    response = requests.Response()
    response.status_code = status
    response.headers["Content-Type"] = content_type
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


@pytest.mark.parametrize(("response", "open_"), [
    (answer(200, {"downloads_left": 1, "downloads_in_progress": 1}), True),
    (answer(409, {"error": {"code": "download_in_progress", "message": "m"}}), True),
    (answer(200, {"downloads_left": 1, "downloads_in_progress": 0}), False),
    (answer(200, {"downloads_left": 2, "downloads_in_progress": 1}), False),  # a lost count, lease or not
    (answer(200, b"file bytes", "application/octet-stream"), False),  # a download where 410 is due: never excused
    (answer(410, {"error": {"code": "download_limit_reached", "message": "m"}}), False),
    (answer(409, {"error": {"code": "conflict", "message": "m"}}), False),
])
def test_only_an_open_lease_excuses_a_missing_410(response, open_):
    assert lease_still_open(response) is open_
