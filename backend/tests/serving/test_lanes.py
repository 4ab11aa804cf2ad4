"""serving/lanes.py: which request heads are transfers."""

import pytest

from anon_hosting.serving.lanes import SHORT_BODY_MAX, is_transfer


def head(line: str, *headers: str, complete: bool = True) -> bytes:
    return ("\r\n".join([line, *headers]) + ("\r\n\r\n" if complete else "\r\n")).encode()


@pytest.mark.parametrize("request_head", [
    head("GET /api/health HTTP/1.1", "Host: x"),
    head("POST /api/files/info HTTP/1.1", "Content-Length: 900", "Content-Type: application/json"),
    head("POST /api/files HTTP/1.1", "content-length: 4096", "X-File-Name: a.bin"),
    head("POST /api/files HTTP/1.1", f"Content-Length: {SHORT_BODY_MAX}"),
    head("HEAD /api/uploads/abc HTTP/1.1", "Tus-Resumable: 1.0.0"),
    head("POST /api/uploads HTTP/1.1", "Upload-Length: 2000000000", "Content-Length: 0"),
    head("DELETE /api/files HTTP/1.1", "Content-Length: 300"),
    head("POST /api/bundles HTTP/1.1", "Content-Length: 2000"),
    head("GET /metrics HTTP/1.1"),
    head("GET /api/files/retrievex HTTP/1.1"),
])
def test_short_work(request_head):
    assert not is_transfer(request_head)


@pytest.mark.parametrize("request_head", [
    head("POST /api/files/retrieve HTTP/1.1", "Content-Length: 900"),
    head("POST /api/files/retrieve?x=1 HTTP/1.1", "Content-Length: 900"),
    head("POST /api/files HTTP/1.1", f"Content-Length: {SHORT_BODY_MAX + 1}"),
    head("PATCH /api/uploads/abc HTTP/1.1", "Content-Length: 8388608"),
    head("POST /api/files HTTP/1.1", "Transfer-Encoding: chunked"),
    head("POST /api/files HTTP/1.1", "Content-Length: 10", "Content-Length: 10"),
    head("POST /api/files HTTP/1.1", "Content-Length: -1"),
    head("POST /api/files HTTP/1.1", "Content-Length: 1e3"),
    head("POST /api/files HTTP/1.1", "X-File-Name: a.bin", complete=False),  # its length has not arrived yet
    head("POST /api/files HTTP/1.1"),  # no length: read to the end
    b"POST /api/files HTTP/1.1",  # the request line only
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello
    b"GARBAGE",
])
def test_transfers_and_what_cannot_be_read(request_head):
    assert is_transfer(request_head)


def test_a_head_cut_after_its_length_is_read_with_what_arrived():
    assert not is_transfer(head("POST /api/files HTTP/1.1", "Content-Length: 4096", complete=False))
