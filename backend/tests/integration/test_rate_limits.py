"""The app's per-IP rate limits over HTTP on a real gunicorn (one worker: the limits are per process), and whose
X-Forwarded-For it believes: TRUSTED_PROXY_ADDRS' alone."""

import http.client
import json

import pytest

from .transfer import error_code, upload_raw, wait_until


@pytest.fixture(scope="module")
def limited(serve):
    with serve("rate-limits", workers=1, extra_env={"RATE_LIMIT_TOKENS": "5/minute",
                                                     "RATE_LIMIT_UPLOADS": "3/minute"}) as server:
        yield server


def test_a_burst_gets_429_with_retry_after_and_a_spoofed_forwarded_for_changes_nothing(limited):
    token = upload_raw(limited, b"x", "x.txt").json()["token"]
    session = limited.session()
    answers = [session.post(limited.url("/api/files/info"), json={"token": token}, timeout=10,
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert error_code(answers[-1]) == "rate_limited"
    assert set(answers[-1].json()["error"]) == {"code", "message"}
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 61
    assert answers[-1].headers["Cache-Control"] == "no-store"


def test_upload_burst(limited):
    answers = [upload_raw(limited, b"y", "y.txt").status_code for _ in range(4)]
    assert answers[-1] == 429 and set(answers) == {201, 429}  # 3 per minute, the test above may have used one


@pytest.fixture(scope="module")
def behind_proxy(serve):
    extra = {"RATE_LIMIT_TOKENS": "3/minute", "TRUSTED_PROXIES": "1"}
    with serve("behind-proxy", workers=1, extra_env=extra) as server:
        yield server


def _info_from(server, source: str, token: str, forwarded: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", "/api/files/info", body=json.dumps({"token": token}),
                     headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded})
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_forged_forwarded_for_sent_straight_to_the_backend_is_ignored(behind_proxy):
    token = upload_raw(behind_proxy, b"x", "x.txt").json()["token"]
    # 127.0.0.2 is not TRUSTED_PROXY_ADDRS (127.0.0.1, ::1): its invented addresses buy nothing
    answers = [_info_from(behind_proxy, "127.0.0.2", token, f"198.51.100.{n}") for n in range(4)]
    assert answers == [200, 200, 200, 429]
    # the proxy's address is believed: each forwarded client has its own budget
    assert [_info_from(behind_proxy, "127.0.0.1", token, f"203.0.113.{n}") for n in range(4)] == [200] * 4
    assert wait_until(lambda: "203.0.113.3 " in behind_proxy.log_text())
    assert "198.51.100." not in behind_proxy.log_text(), "a forged address reached the access log"
