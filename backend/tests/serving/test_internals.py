"""The third-party internals that anon_hosting/serving/ and anon_hosting/jwe_registry.py rely on are still there.

Each test names the module that needs the internal: when an upgrade removes one, this fails with that
name at once, instead of the server silently changing behaviour (docs/performance.md, "What is kept").
"""

import copy
import inspect
import io
import socket
from importlib.metadata import version

from gunicorn import glogging
from gunicorn.config import Config
from gunicorn.http import body as http_body
from gunicorn.http.parser import RequestParser
from gunicorn.workers import gthread
from jwcrypto import common, jwe

from anon_hosting import jwe_registry, tokens  # noqa: F401 - importing tokens installs the registry
from anon_hosting.serving.access_log import AccessLogger
from anon_hosting.serving.worker import LaneWorker

from .gunicorn_request import parse


def _params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_gthread_still_calls_handle_request_with_the_connection_whose_socket_the_worker_times_out():
    needs = f"anon_hosting/serving/worker.py needs it; gunicorn {version('gunicorn')} is installed"
    assert _params(gthread.ThreadWorker.handle_request)[:3] == ["self", "req", "conn"], (
        f"gunicorn's gthread no longer has ThreadWorker.handle_request(req, conn): {needs}")
    left, right = socket.socketpair()
    try:
        conn = gthread.TConn(Config(), left, ("127.0.0.1", 1), ("127.0.0.1", 2))
        assert conn.sock is left, f"gunicorn's gthread TConn no longer keeps its socket as .sock: {needs}"
    finally:
        left.close()
        right.close()
    assert LaneWorker.handle_request is not gthread.ThreadWorker.handle_request


def test_gthread_still_queues_requests_and_awaits_first_bytes_as_the_lane_worker_expects():
    needs = f"anon_hosting/serving/worker.py needs it; gunicorn {version('gunicorn')} is installed"
    assert _params(gthread.ThreadWorker.enqueue_req) == ["self", "conn"], (
        f"gunicorn's gthread no longer has ThreadWorker.enqueue_req(conn): {needs}")
    source = inspect.getsource(gthread.ThreadWorker.enqueue_req)
    for used in ("self.tpool.submit(self.handle, conn)", "self.method_queue.defer(self.finish_request, conn"):
        assert used in source, f"gthread's enqueue_req no longer does {used}: {needs}"
    assert _params(gthread.ThreadWorker.finish_request) == ["self", "conn", "fs"], (
        f"gunicorn's gthread no longer has ThreadWorker.finish_request(conn, fs): {needs}")
    assert _params(gthread.ThreadWorker.on_pending_socket_readable) == ["self", "conn", "client"], (
        f"gunicorn's gthread no longer has on_pending_socket_readable(conn, client): {needs}")
    for name in ("pending_conns", "method_queue", "tpool", "poller"):
        assert name in inspect.getsource(gthread.ThreadWorker.__init__), f"gthread's worker has no .{name}: {needs}"
    assert "self.pending_conns" in inspect.getsource(gthread.ThreadWorker.murder_pending), (
        f"gthread no longer closes pending connections in murder_pending: {needs}")
    assert "unreader" in inspect.getsource(gthread.ThreadWorker.finish_request), (
        f"gthread no longer keeps a connection's read-ahead in conn.parser.unreader: {needs}")


def test_gunicorn_still_reads_a_sized_body_as_the_socket_body_expects():
    needs = f"anon_hosting/serving/body.py needs it; gunicorn {version('gunicorn')} is installed"
    left, right = socket.socketpair()
    try:
        right.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        _, environ = parse(left)
    finally:
        left.close()
        right.close()
    body = environ["wsgi.input"]
    assert type(body) is http_body.Body, f"gunicorn's wsgi.input is no longer gunicorn.http.body.Body: {needs}"
    assert type(body.reader) is http_body.LengthReader, f"a sized body is no longer read by LengthReader: {needs}"
    assert environ["gunicorn.socket"] is left, f"environ['gunicorn.socket'] is no longer the connection: {needs}"
    assert isinstance(body.buf, io.BytesIO) and body.failed is False, f"Body has no .buf BytesIO or .failed: {needs}"
    assert body.reader.length == 5, f"LengthReader.length no longer counts the body bytes not yet taken: {needs}"
    assert isinstance(body.reader.unreader.buf, io.BytesIO), f"the unreader no longer buffers in .buf: {needs}"
    assert body.reader.unreader.buf.getvalue() == b"hello", f"the unreader no longer holds the read-ahead: {needs}"
    assert '"failed"' in inspect.getsource(RequestParser.finish_body), (
        f"gunicorn's parser no longer refuses to reuse a connection whose Body failed: {needs}")


def test_glogging_still_has_what_the_access_logger_overrides_and_reads():
    needs = f"anon_hosting/serving/access_log.py needs it; gunicorn {version('gunicorn')} is installed"
    for method in ("access", "atoms"):
        assert _params(getattr(glogging.Logger, method)) == ["self", "resp", "req", "environ", "request_time"], (
            f"gunicorn's glogging.Logger.{method} no longer takes (resp, req, environ, request_time): {needs}")
    logger = AccessLogger(Config())
    for name in ("access_log", "access_log_enabled", "atoms_wrapper_class", "cfg", "error"):
        assert hasattr(logger, name), f"gunicorn's glogging.Logger no longer has .{name}: {needs}"
    assert hasattr(logger.cfg, "access_log_format"), f"gunicorn's Config has no access_log_format: {needs}"


def test_jwcrypto_still_deep_copies_the_module_registry_into_every_jwe():
    needs = f"anon_hosting/jwe_registry.py needs it; jwcrypto {version('jwcrypto')} is installed"
    assert isinstance(jwe.JWEHeaderRegistry, jwe_registry.HeaderRegistry), (
        f"jwcrypto.jwe.JWEHeaderRegistry is not the installed registry (renamed or moved?): {needs}")
    copied = []

    class Spy(dict):
        def __deepcopy__(self, memo):
            copied.append(True)
            return dict(self)

    common.JWSEHeaderRegistry(Spy(jwe.JWEHeaderRegistry))
    assert copied, f"jwcrypto's JWSEHeaderRegistry no longer deep-copies the registry it is given: {needs}"
    assert jwe.JWE().header_registry._registry == copy.copy(jwe.JWEHeaderRegistry), (
        f"a jwcrypto JWE no longer starts from jwcrypto.jwe.JWEHeaderRegistry: {needs}")
