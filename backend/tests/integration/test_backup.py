"""Backup under load and restore onto a fresh stack, through the real CLI and real gunicorn servers.

Uploads and downloads keep running while ``flask --app anon_hosting backup`` copies the
store; the backup is then restored, with the same SECRET_KEY, into the empty folders of a
new stack, and every file acknowledged before the backup started must come back
byte-identical with its old token.
"""

import os
import subprocess
import sys
import threading

from .server import BACKEND_DIR, GunicornServer, gunicorn_env
from .transfer import download_bytes, upload_raw

FLASK = os.path.join(os.path.dirname(sys.executable), "flask")


def flask(server: GunicornServer, *args: str) -> subprocess.CompletedProcess:
    env = gunicorn_env(server.storage_dir, server.private_dir, server.secret_key)
    return subprocess.run([FLASK, "--app", "anon_hosting", *args], cwd=BACKEND_DIR, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_backup_taken_under_load_restores_every_acknowledged_file(serve, tmp_path_factory, log_audit):
    with serve("backed-up") as server:
        files = {}
        for index in range(24):
            data = os.urandom(1_000 + index * 37_000)  # from 1 KB (in the index) to 0.9 MB (a blob file)
            answer = upload_raw(server, data, f"f{index}.bin")
            assert answer.status_code == 201, answer.text
            files[answer.json()["token"]] = data
        stop, failures, rounds = threading.Event(), [], [0]

        def load() -> None:
            session = server.session()
            while not stop.is_set():
                data = os.urandom(200_000)
                answer = upload_raw(server, data, "during.bin", session)
                if answer.status_code != 201 or download_bytes(server, answer.json()["token"], session) != data:
                    failures.append(answer.status_code)
                rounds[0] += 1

        workers = [threading.Thread(target=load) for _ in range(3)]
        for worker in workers:
            worker.start()
        try:
            dest = tmp_path_factory.mktemp("backup") / "copy"
            result = flask(server, "backup", str(dest))
        finally:
            stop.set()
            for worker in workers:
                worker.join(60)
        assert result.returncode == 0, result.stderr
        assert "holds no SECRET_KEY" in result.stdout
        assert failures == [] and rounds[0] > 0
        secret_key = server.secret_key

    restored = GunicornServer(tmp_path_factory.mktemp("restored"), secret_key=secret_key)
    log_audit.watch(restored)
    result = flask(restored, "restore", str(dest))
    assert result.returncode == 0, result.stderr
    again = flask(restored, "restore", str(dest))
    assert again.returncode != 0 and "already holds files" in again.stderr  # never over data
    with restored:
        for token, data in files.items():
            assert download_bytes(restored, token) == data
