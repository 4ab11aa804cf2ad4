"""http/metrics.py through Flask's test client: the request id, the counts by route (never by path), /metrics."""

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families


def samples(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def count(client, name: str, **labels) -> float:
    return samples(client).get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_answer_carries_the_request_id_the_proxy_sent(client):
    assert client.get("/api/health", headers={"X-Request-ID": "0123456789abcdef"}).headers["X-Request-ID"] == \
        "0123456789abcdef"


def test_a_malformed_request_id_is_replaced(client):
    answer = client.get("/api/health", headers={"X-Request-ID": "bad id\u00e9"})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/api/nothing").headers["X-Request-ID"])  # errors too


def test_requests_are_counted_by_route_and_status_never_by_path(client):
    before = count(client, "anon_hosting_requests_total", route="(unmatched)", status="404")
    for path in ("/api/nothing-1", "/api/nothing-2", "/secret-looking-path"):
        assert client.get(path).status_code == 404
    after = samples(client)
    assert after[("anon_hosting_requests_total", (("route", "(unmatched)"), ("status", "404")))] == before + 3
    assert not [key for key in after if "nothing" in str(key) or "secret-looking" in str(key)]


def test_uploads_and_downloads_are_counted_by_outcome_and_code(client):
    completed = count(client, "anon_hosting_uploads_total", outcome="completed", code="")
    refused = count(client, "anon_hosting_downloads_total", outcome="refused", code="invalid_token")
    token = client.post("/api/files", data=b"hello", content_type="application/octet-stream").get_json()["token"]
    body = client.post("/api/files/retrieve", json={"token": token})
    assert body.get_data() == b"hello"
    body.close()
    assert client.post("/api/files/retrieve", json={"token": "not-a-token"}).status_code == 400
    assert count(client, "anon_hosting_uploads_total", outcome="completed", code="") == completed + 1
    assert count(client, "anon_hosting_downloads_total", outcome="completed", code="") >= 1
    assert count(client, "anon_hosting_downloads_total", outcome="refused", code="invalid_token") == refused + 1


def test_storage_figures_come_from_the_index(client):
    client.post("/api/files", data=b"x" * 100_000, content_type="application/octet-stream")
    figures = samples(client)
    assert figures[("anon_hosting_files_stored", ())] == 1
    assert figures[("anon_hosting_bytes_stored", ())] > 100_000  # the encrypted blob
    assert figures[("anon_hosting_storage_free_bytes", ())] > 0


def test_ready_checks_the_key_set(client, app_config):
    assert client.get("/api/ready").get_json() == {"status": "ready"}
    keyset = Path(app_config["PRIVATE_FOLDER"]) / "keyset.jwe"
    keyset.rename(keyset.with_suffix(".moved"))
    answer = client.get("/api/ready")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (503, "keys_unavailable")
    assert answer.headers["Retry-After"].isdigit()
    assert client.get("/api/health").status_code == 200  # liveness does not depend on it
