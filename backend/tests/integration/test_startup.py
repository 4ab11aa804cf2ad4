"""Start-up: a bad SECRET_KEY, or one that does not open the key set, stops gunicorn with one clear line;
four workers starting at once share one key set.

The refusals run gunicorn exactly as production does and expect it to exit
non-zero before serving. The first-start test points four workers at a
PRIVATE_FOLDER that does not exist yet, so they race to create the key set;
tokens issued by any worker must then verify on every worker.
"""

import stat
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from anon_hosting.keys import KEYSET_FILE, LOCK_FILE, KeyRing

from .server import random_secret_key, run_until_exit
from .transfer import info, upload_raw

WORKERS = 4
UPLOADS = 48


@pytest.mark.parametrize("secret_key", [
    pytest.param("change-me-to-a-long-random-string", id="example-value"),
    pytest.param(random_secret_key(31), id="31-characters"),
    pytest.param("", id="empty"),
])
def test_gunicorn_refuses_to_start_with_a_bad_secret_key(tmp_path, secret_key):
    result = run_until_exit(tmp_path, secret_key)
    assert result.returncode != 0
    mentions = [line for line in result.stderr.splitlines() if "SECRET_KEY" in line]
    assert len(mentions) == 1, result.stderr
    assert mentions[0].startswith("anon-hosting: configuration error: SECRET_KEY"), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    if secret_key:
        assert secret_key not in result.stderr + result.stdout


def test_gunicorn_refuses_a_secret_key_that_does_not_open_the_key_set(tmp_path):
    KeyRing(tmp_path / "private", random_secret_key())
    sealed = (tmp_path / "private" / KEYSET_FILE).read_bytes()
    secret_key = random_secret_key()
    result = run_until_exit(tmp_path, secret_key)
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert [line for line in result.stderr.splitlines() if "SECRET_KEY" in line] == [
        f"anon-hosting: configuration error: SECRET_KEY does not open the key set in PRIVATE_FOLDER "
        f"({tmp_path / 'private' / KEYSET_FILE}): restore the old key, or move the folder away to start afresh, "
        "which makes every existing token useless (a damaged file gives this error too)."], output
    assert "Traceback" not in output and secret_key not in output
    assert (tmp_path / "private" / KEYSET_FILE).read_bytes() == sealed


@pytest.fixture(scope="module")
def first_start(serve):
    with serve("first-start", workers=WORKERS) as server:
        server.wait_for_workers(WORKERS)
        yield server


def _write_chars(pids: list[int]) -> dict[int, int]:
    """Bytes each worker wrote to sockets and files so far (a worker that served a request wrote its answer)."""
    return {pid: psutil.Process(pid).io_counters().write_chars for pid in pids}


def test_tokens_from_any_worker_verify_on_every_worker(first_start):
    pids = first_start.worker_pids()
    written_before = _write_chars(pids)

    def upload(number: int) -> str:
        with first_start.session() as session:  # a new connection each time, so any worker may take it
            response = upload_raw(first_start, f"file {number}".encode(), f"{number}.txt", session=session)
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def verify(token: str) -> int:
        return info(first_start, token).status_code  # requests.post: a new connection too

    with ThreadPoolExecutor(16) as pool:
        issued = list(pool.map(upload, range(UPLOADS)))
        statuses = list(pool.map(verify, issued * 3))

    busy = [pid for pid, chars in _write_chars(pids).items() if chars > written_before[pid]]
    print(f"\n[{len(busy)} of {len(pids)} workers served requests]")
    assert statuses == [200] * len(statuses)
    assert len(busy) >= 2, "every request went to one worker, so sharing was not exercised"


def test_key_set_file_is_owner_only(first_start):
    assert stat.S_IMODE((first_start.private_dir / KEYSET_FILE).stat().st_mode) == 0o600


def test_private_folder_is_owner_only(first_start):
    assert stat.S_IMODE(first_start.private_dir.stat().st_mode) == 0o700


def test_racing_workers_leave_one_key_set_and_no_temp_files(first_start):
    names = sorted(path.name for path in first_start.private_dir.iterdir())
    assert set(names) <= {KEYSET_FILE, LOCK_FILE} and names.count(KEYSET_FILE) == 1
