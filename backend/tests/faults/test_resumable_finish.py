"""A worker killed between storing a resumable upload's file and marking its record finished, on a real gunicorn.

The fault switch's "kill-finished-record" SIGKILLs the only worker as it is about to store the record
with ``done`` set: the blob and its state are stored, the record still says unfinished. The master
starts a new worker, whose sweeper runs a full sweep at once and again every second; the file is
still there after them. Then the client's resend of its last PATCH answers as for any finished upload
whose answer was lost (409, tus's answer to a stale offset), HEAD answers the length, a PATCH at the
length answers 200 with the tokens, GET answers them again, and the download equals the upload.
"""

import json
import os
import time

import pytest
import requests

from anon_hosting.crypto.stream import CHUNK_SIZE

from ..integration.transfer import wait_until
from ..integration.tus_client import Upload
from .conftest import fault_env

MIB = 1 << 20
SIZE = 9 * MIB + 123  # past one S3 part (8 whole chunks), so the S3 upload completes two parts
LAST = (SIZE - 1) // CHUNK_SIZE * CHUNK_SIZE  # the offset before the last chunk


@pytest.fixture(params=["local", "s3"])
def backend(request):
    if request.param == "local":
        return None
    s3 = request.getfixturevalue("s3_server")
    return s3, s3.new_bucket()


def test_a_kill_between_storing_and_marking_a_finished_upload_answers_as_finished(serve, tmp_path, backend):
    switch = tmp_path / "fault"
    env = {**fault_env(switch), "SWEEP_INTERVAL": "1", **(backend[0].env(backend[1]) if backend else {})}
    with serve("tus-finish-kill", workers=1, extra_env=env) as server:
        [victim] = server.wait_for_workers(1)
        data = os.urandom(SIZE)
        upload = Upload(server.base_url, data, session=server.session())
        assert upload.patch(0, LAST).status_code == 204
        switch.write_text("kill-finished-record")
        with pytest.raises(requests.ConnectionError):
            upload.patch(LAST)
        assert not switch.exists(), "the fault never fired"
        assert wait_until(lambda: server.worker_pids() and victim not in server.worker_pids(), timeout=30)
        assert record(server, backend, upload)["done"] is None and file_stored(server, backend, upload)

        time.sleep(3)  # the new worker's sweeps: a full one at start, then one a second
        assert file_stored(server, backend, upload), "a sweep removed the stored file"
        resent = upload.patch(LAST)
        assert resent.status_code == 409, resent.text
        assert resent.json()["error"]["code"] == "offset_mismatch"
        assert upload.offset() == SIZE
        finished = upload.patch(SIZE)
        assert finished.status_code == 200, finished.text
        server.record_answer(finished.json())
        assert finished.json()["size"] == SIZE and finished.json()["name"] == upload.name
        again = upload.result()
        assert again.status_code == 200 and again.json()["name"] == upload.name
        assert upload.download() == data
        assert record(server, backend, upload)["done"] is not None
        assert "Traceback" not in server.log_text()


def record(server, backend, upload: Upload) -> dict:
    if backend is None:
        return json.loads((server.storage_dir / ".uploads" / f"{upload.id}.json").read_bytes())
    s3, bucket = backend
    return json.loads(s3.client().get_object(Bucket=bucket, Key=f"uploads/{upload.id}.json")["Body"].read())


def file_stored(server, backend, upload: Upload) -> bool:
    if backend is None:
        return {upload.id, f"{upload.id}.state"} <= server.storage_entries()
    s3, bucket = backend
    keys = {obj["Key"] for obj in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])}
    return {upload.id, f"{upload.id}.state"} <= keys
