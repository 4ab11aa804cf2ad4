"""The app's per-IP rate limits over HTTP on a real gunicorn (one worker: the limits are per process)."""

import pytest

from .transfer import error_code, upload_raw


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
