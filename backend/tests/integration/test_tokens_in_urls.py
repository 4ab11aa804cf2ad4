"""A token in a query string is refused with 400 bad_request, even next to a valid token in the body.

URLs end up in logs, browser histories and Referer headers, so tokens travel
only in POST bodies. The refusal must not depend on the body, the route or the
method. (That no token ever reaches a log is checked for the whole session by
the ``log_audit`` fixture in conftest.py.)
"""

import pytest
import requests

from .transfer import error_code, upload_raw, wait_until


@pytest.fixture(scope="module")
def token(server) -> str:
    response = upload_raw(server, b"a small secret file", "secret.txt")
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.mark.parametrize("path", ["/api/files/info", "/api/files/retrieve"])
def test_valid_token_in_the_body_alone_is_accepted(server, token, path):
    response = requests.post(server.url(path), json={"token": token}, timeout=30)
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/files/info", "/api/files/retrieve"])
def test_token_in_query_string_is_refused_even_with_a_valid_json_body(server, token, path):
    response = requests.post(server.url(path), params={"token": token}, json={"token": token}, timeout=30)
    assert (response.status_code, error_code(response)) == (400, "bad_request")
    assert token not in response.text


@pytest.mark.parametrize("path", ["/api/files/info", "/api/files/retrieve"])
def test_token_in_query_string_is_refused_even_with_a_valid_form_body(server, token, path):
    response = requests.post(server.url(path), params={"token": token}, data={"token": token}, timeout=30)
    assert (response.status_code, error_code(response)) == (400, "bad_request")


def test_token_in_query_string_of_an_upload_is_refused_and_nothing_is_stored(server, token):
    before = server.storage_entries()
    response = requests.post(server.url("/api/files"), params={"token": token}, data=b"payload",
                             headers={"Content-Type": "application/octet-stream", "X-File-Name": "a.txt"}, timeout=30)
    assert (response.status_code, error_code(response)) == (400, "bad_request")
    assert server.storage_entries() == before


def test_token_in_query_string_of_a_get_is_refused(server, token):
    response = requests.get(server.url("/api/config"), params={"token": token}, timeout=30)
    assert (response.status_code, error_code(response)) == (400, "bad_request")


def test_access_log_records_the_refused_request_without_its_token(server, token):
    seen = len(server.log_text().splitlines())

    def access_lines() -> list[str]:
        return [line for line in server.log_text().splitlines()[seen:] if "/api/files/info" in line and " 400 " in line]

    requests.post(server.url("/api/files/info"), params={"token": token}, json={"token": token}, timeout=30)
    assert wait_until(access_lines), f"no access log line for the refused request:\n{server.log_tail()}"
    assert token not in "\n".join(access_lines())
    assert "?token=" not in "\n".join(access_lines())
