"""Two app replicas, separate gunicorn processes, share one S3 bucket and one key set (docs/scaling.md).

The key set is made once, before either replica starts, with the operator
command ``flask --app anon_hosting keys list``, and copied into each replica's
own PRIVATE_FOLDER, as a mounted secret would be; both get the same SECRET_KEY.
A file uploaded through one is read and deleted through the other, and a file
with one allowed download gives exactly one download when eight clients ask
both replicas at the same moment.
"""

import contextlib
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from anon_hosting import keys

from .server import BACKEND_DIR, GUNICORN, GunicornServer, gunicorn_env, random_secret_key
from .transfer import MIB, error_code, info, upload_bundle, upload_raw, wait_until

PREFIX = "replicas/"


@pytest.fixture(scope="module")
def replicas(s3_server, tmp_path_factory, log_audit):
    if not s3_server.atomic:
        pytest.skip("this S3 server does not check conditional writes atomically (moto)")
    bucket, secret_key = s3_server.new_bucket(), random_secret_key()
    env = s3_server.env(bucket, PREFIX)
    keyset = _make_keyset(tmp_path_factory.mktemp("secret"), secret_key, env)
    with contextlib.ExitStack() as stack:
        servers = []
        for label in ("a", "b"):
            root = tmp_path_factory.mktemp(f"replica-{label}")
            (root / "private").mkdir(mode=0o700)
            shutil.copy2(keyset, root / "private" / keys.KEYSET_FILE)
            server = GunicornServer(root, secret_key=secret_key, extra_env=env)
            log_audit.watch(server)
            servers.append(stack.enter_context(server))
        yield servers
        for server in servers:  # neither replica wrote anything to local disk, nor made a key set of its own
            assert server.storage_entries() == set()
            assert os.listdir(server.private_dir) == [keys.KEYSET_FILE]
            assert (server.private_dir / keys.KEYSET_FILE).read_bytes() == keyset.read_bytes()


def _make_keyset(folder, secret_key, s3_env):
    env = gunicorn_env(folder / "files", folder / "private", secret_key, extra=s3_env)
    result = subprocess.run([str(GUNICORN.parent / "flask"), "--app", "anon_hosting", "keys", "list"], cwd=BACKEND_DIR,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return folder / "private" / keys.KEYSET_FILE


def test_a_file_uploaded_through_one_replica_is_read_and_deleted_through_the_other(replicas, s3_server):
    a, b = replicas
    data = os.urandom(9 * MIB + 3)  # more than one 8 MiB part: a multipart upload
    answer = upload_raw(a, data, "across.bin")
    assert answer.status_code == 201, answer.text
    token, owner = answer.json()["token"], answer.json()["owner_token"]
    assert info(b, token).json()["size"] == len(data)
    response = b.session().post(b.url("/api/files/retrieve"), json={"token": token}, timeout=60)
    assert response.status_code == 200 and response.content == data
    assert b.session().post(b.url("/api/files/delete"), json={"token": owner}, timeout=30).status_code == 204
    gone = a.session().post(a.url("/api/files/retrieve"), json={"token": token}, timeout=30)
    assert (gone.status_code, error_code(gone)) == (404, "not_found")


@pytest.mark.parametrize("round_", range(3))
def test_one_allowed_download_is_one_download_across_replicas(replicas, round_):
    a, b = replicas
    data = os.urandom(2 * MIB + 17)
    answer = a.session().post(a.url("/api/files?max_downloads=1"), data=data, timeout=60,
                              headers={"Content-Type": "application/octet-stream", "X-File-Name": "once.bin"})
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    start = threading.Barrier(8)

    def retrieve(server: GunicornServer) -> tuple[int, str | None, bool]:
        session = requests.Session()
        start.wait(30)
        response = session.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
        return response.status_code, error_code(response), response.content == data

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(retrieve, [a, b] * 4))
    wins = [r for r in results if r[0] == 200]
    assert wins == [(200, None, True)], results
    assert all((status, code) in {(409, "download_in_progress"), (410, "download_limit_reached")}
               for status, code, _ in results if status != 200), results
    for server in (a, b):  # the winner's last byte may reach its client just before the server counts it
        assert wait_until(lambda server=server: _late_answer(server, token) == (410, "download_limit_reached"))


def _late_answer(server: GunicornServer, token: str) -> tuple[int, str | None]:
    response = requests.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=30)
    return response.status_code, error_code(response)


def test_a_one_time_download_broken_past_half_counts_on_the_other_replica(replicas):
    a, b = replicas
    data = os.urandom(6 * MIB)
    answer = a.session().post(a.url("/api/files?max_downloads=1"), data=data, timeout=60,
                              headers={"Content-Type": "application/octet-stream", "X-File-Name": "half.bin"})
    token = answer.json()["token"]
    with requests.post(b.url("/api/files/retrieve"), json={"token": token}, timeout=60, stream=True) as partial:
        received = partial.raw.read(4 * MIB)  # two thirds: the server handed out at least that much
    assert received == data[:4 * MIB]
    assert wait_until(lambda: _late_answer(a, token) == (410, "download_limit_reached"))


def test_a_one_time_bundle_gives_one_zip_across_replicas(replicas):
    a, b = replicas
    files = [(os.urandom(MIB + 5), "one.bin"), (os.urandom(MIB // 3), "folder/two.bin")]
    answer = upload_bundle(a, files, {"max_downloads": "1"})
    assert answer.status_code == 201, answer.text
    token = answer.json()["token"]
    start = threading.Barrier(8)

    def retrieve(server: GunicornServer) -> tuple[int, str | None]:
        start.wait(30)
        response = requests.post(server.url("/api/files/retrieve"), json={"token": token}, timeout=60)
        return response.status_code, error_code(response)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(retrieve, [a, b] * 4))
    assert [status for status, _ in results].count(200) == 1, results
    assert all(code in {"download_in_progress", "download_limit_reached"} for status, code in results
               if status != 200), results
    for server in (a, b):
        assert wait_until(lambda server=server: _late_answer(server, token) == (410, "download_limit_reached"))
