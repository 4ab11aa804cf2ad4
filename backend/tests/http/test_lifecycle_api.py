"""Owner tokens and delete, download limits, passphrases, upload password, the sweeper, via the test client."""

import os

import pytest

from anon_hosting import create_app, lifecycle

from ..storage.stores import local_entries
from . import post_multipart
from .test_api import RAW, assert_error


def upload(client, data=b"payload", query="", headers=None):
    response = client.post(f"/api/files{query}", data=data, headers={**RAW, "X-File-Name": "f.txt", **(headers or {})})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def info(client, token, **extra):
    return client.post("/api/files/info", json={"token": token, **extra})


def retrieve(client, token, **extra):
    return client.post("/api/files/retrieve", json={"token": token, **extra})


def test_owner_token_deletes_and_the_download_token_then_finds_nothing(client, storage_dir):
    body = upload(client)
    assert body["owner_token"] != body["token"]
    assert client.post("/api/files/delete", json={"token": body["owner_token"]}).status_code == 204
    assert local_entries(storage_dir) == set()
    assert_error(info(client, body["token"]), 404, "not_found")
    assert_error(retrieve(client, body["token"]), 404, "not_found")
    assert_error(client.post("/api/files/delete", json={"token": body["owner_token"]}), 404, "not_found")


def test_tokens_cannot_do_each_others_work(client):
    body = upload(client)
    assert_error(client.post("/api/files/delete", json={"token": body["token"]}), 403, "forbidden")
    assert_error(retrieve(client, body["owner_token"]), 403, "forbidden")
    assert_error(info(client, body["owner_token"]), 403, "forbidden")
    assert retrieve(client, body["token"]).get_data() == b"payload"


def test_burn_after_reading(client, storage_dir):
    body = upload(client, b"once", "?max_downloads=1")
    assert body["max_downloads"] == 1
    assert info(client, body["token"]).get_json()["downloads_left"] == 1
    assert info(client, body["token"]).get_json()["downloads_left"] == 1, "info consumes nothing"
    assert retrieve(client, body["token"]).get_data() == b"once"
    assert_error(retrieve(client, body["token"]), 410, "download_limit_reached")
    assert_error(info(client, body["token"]), 410, "download_limit_reached")
    assert [p for p in local_entries(storage_dir) if len(p) == 43] == [], "the blob is deleted"


def test_a_download_that_breaks_off_does_not_count(client):
    data = os.urandom(3 * 1024 * 1024)
    body = upload(client, data, "?max_downloads=1")
    partial = client.post("/api/files/retrieve", json={"token": body["token"]}, buffered=False)
    chunks = iter(partial.response)
    next(chunks)
    during = info(client, body["token"]).get_json()
    assert (during["downloads_left"], during["downloads_in_progress"]) == (1, 1), "the page can tell before it asks"
    assert_error(retrieve(client, body["token"]), 409, "download_in_progress")
    partial.close()  # the client went away before the last byte
    after = info(client, body["token"]).get_json()
    assert (after["downloads_left"], after["downloads_in_progress"]) == (1, 0)
    assert retrieve(client, body["token"]).get_data() == data


def test_a_download_whose_file_is_deleted_before_its_last_byte_still_ends_cleanly(client):
    # Under the soak, the owner's delete landed between a limited download's last chunk and its count:
    # the count raised NotFound after the whole answer was out, gunicorn then closed the connection, and
    # nginx, which had already reused it, answered another client's request 502.
    data = os.urandom(3 * 1024 * 1024)
    body = upload(client, data, "?max_downloads=2")
    download = client.post("/api/files/retrieve", json={"token": body["token"]}, buffered=False)
    chunks = iter(download.response)
    received = [next(chunks)]
    assert client.post("/api/files/delete", json={"token": body["owner_token"]}).status_code == 204
    received.extend(chunks)  # the rest, then the count: nothing to count any more, and no error
    download.close()
    assert b"".join(received) == data
    assert_error(info(client, body["token"]), 404, "not_found")


def test_several_downloads_count_down(client):
    body = upload(client, b"x", "?max_downloads=3")
    for left in (2, 1, 0):
        assert retrieve(client, body["token"]).get_data() == b"x"
        if left:
            assert info(client, body["token"]).get_json()["downloads_left"] == left
    assert_error(retrieve(client, body["token"]), 410, "download_limit_reached")


@pytest.mark.parametrize("ask", [info, retrieve])
def test_the_last_download_finishing_between_state_and_blob_reads_answers_410(client, service, monkeypatch, ask):
    # The race: this request reads the state (one slot left), then another request completes the last download
    # and deletes the blob, then this request opens the blob. It must say why the blob is gone, not 404.
    body = upload(client, b"once", "?max_downloads=1")
    read_state = service.storage.read_state

    def state_then_last_download(name):
        state = read_state(name)
        monkeypatch.setattr(service.storage, "read_state", read_state)
        assert retrieve(client, body["token"]).get_data() == b"once"
        return state

    monkeypatch.setattr(service.storage, "read_state", state_then_last_download)
    assert_error(ask(client, body["token"]), 410, "download_limit_reached")


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1001"])
def test_max_downloads_is_validated(client, bad):
    assert_error(client.post(f"/api/files?max_downloads={bad}", data=b"x", headers=RAW), 400, "bad_request")


def test_passphrase_on_a_raw_upload(client):
    body = upload(client, b"secret", headers={"X-Passphrase": "p%C3%A4ss"})
    assert body["passphrase"] is True
    assert_error(info(client, body["token"]), 401, "passphrase_required")
    assert_error(retrieve(client, body["token"]), 401, "passphrase_required")
    assert_error(info(client, body["token"], passphrase="wrong"), 403, "wrong_passphrase")
    assert info(client, body["token"], passphrase="päss").get_json()["size"] == 6
    assert retrieve(client, body["token"], passphrase="päss").get_data() == b"secret"
    form = client.post("/api/files/retrieve", data={"token": body["token"], "passphrase": "päss"})
    assert form.get_data() == b"secret"


def test_passphrase_field_may_follow_the_file_in_multipart(client):
    response = post_multipart(client, {"file": (b"late", "l.txt"), "passphrase": "after"})
    body = response.get_json()
    assert body["passphrase"] is True
    assert retrieve(client, body["token"], passphrase="after").get_data() == b"late"


def test_wrong_passphrases_are_rate_limited_per_file(client):
    body = upload(client, headers={"X-Passphrase": "right"})
    other = upload(client, headers={"X-Passphrase": "right"})
    for _ in range(lifecycle.MAX_FAILED_ATTEMPTS):
        assert_error(info(client, body["token"], passphrase="guess"), 403, "wrong_passphrase")
    limited = info(client, body["token"], passphrase="right")
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert info(client, other["token"], passphrase="right").status_code == 200


def test_the_token_alone_holds_no_usable_key_when_protected(client, service):
    from anon_hosting import tokens
    claims = tokens.verify(upload(client, headers={"X-Passphrase": "pw"})["token"], service.keyring)
    assert len(claims.file_key) == 48 and claims.passphrase_salt is not None


@pytest.fixture
def locked_client(app_config):
    return create_app({**app_config, "UPLOAD_PASSWORD": "let-me-in"}).test_client()


def test_upload_password(locked_client):
    assert locked_client.get("/api/config").get_json()["upload_password_required"] is True
    assert_error(locked_client.post("/api/files", data=b"x", headers=RAW), 401, "unauthorized")
    assert_error(locked_client.post("/api/files", data=b"x", headers={**RAW, "Authorization": "Bearer nope"}),
                 401, "unauthorized")
    ok = locked_client.post("/api/files", data=b"x", headers={**RAW, "Authorization": "Bearer let-me-in"})
    assert ok.status_code == 201
    assert retrieve(locked_client, ok.get_json()["token"]).get_data() == b"x", "downloads stay public"


def test_wrong_upload_passwords_are_rate_limited(locked_client):
    for _ in range(10):
        locked_client.post("/api/files", data=b"x", headers={**RAW, "Authorization": "Bearer nope"},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    limited = locked_client.post("/api/files", data=b"x", headers={**RAW, "Authorization": "Bearer let-me-in"},
                                 environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert_error(limited, 429, "rate_limited")
    assert "Retry-After" in limited.headers
    elsewhere = locked_client.post("/api/files", data=b"x", headers={**RAW, "Authorization": "Bearer let-me-in"},
                                   environ_base={"REMOTE_ADDR": "203.0.113.10"})
    assert elsewhere.status_code == 201


def test_sweep_deletes_expired_and_exhausted_files(client, service, storage_dir):
    import time
    keep = upload(client, b"keep", "?expires_in=3600")
    upload(client, b"old", "?expires_in=60")
    (storage_dir / ".tmp-dead").write_bytes(b"x")
    os.utime(storage_dir / ".tmp-dead", (0, 0))
    assert service.sweep(now=time.time() + 61) == 1  # a regular sweep: the expired file only
    assert service.sweep(now=time.time() + 61, full=True) == 1  # a full one: the dead writer's temp file
    kept = tokens_storage(service, keep["token"])
    assert local_entries(storage_dir) == {kept, kept + ".state"}
    assert retrieve(client, keep["token"]).get_data() == b"keep"


def tokens_storage(service, token):
    from anon_hosting import tokens
    return tokens.verify(token, service.keyring).storage_name


def test_expired_files_never_come_back(client, service):
    import time
    body = upload(client, b"old", "?expires_in=60")
    service.sweep(now=time.time() + 61)
    assert_error(retrieve(client, body["token"]), 404, "not_found")


def test_sweep_cli(app, client):
    upload(client, b"x")
    result = app.test_cli_runner().invoke(args=["sweep"])
    assert result.exit_code == 0 and "Removed 0 item(s)." in result.output
