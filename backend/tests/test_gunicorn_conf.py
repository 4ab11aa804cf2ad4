"""backend/gunicorn.conf.py: the lean access logger writes the line gunicorn's own logger would; the
keep-alive worker serves a connection's requests on one thread without starving other connections."""

import datetime
import inspect
import io
import logging
import re
import runpy
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from tests.integration.server import BACKEND_DIR, GUNICORN, free_port, gunicorn_env, random_secret_key

CONF = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))


def _line(logger_class, resp, environ, took) -> str:
    atoms = logger_class(Config()).atoms(resp, SimpleNamespace(headers=[]), environ, took)
    return CONF["access_log_format"] % glogging.SafeAtoms(atoms)


@pytest.mark.parametrize(("status", "sent", "took"), [
    ("201 CREATED", 312, datetime.timedelta(microseconds=4_567)),
    (429, 0, datetime.timedelta(seconds=2, microseconds=999_999)),
    ("500 INTERNAL SERVER ERROR", None, datetime.timedelta(0)),
])
def test_access_lines_match_the_stock_logger(status, sent, took):
    resp = SimpleNamespace(status=status, sent=sent,
                           headers=[("Content-Type", "application/json"), ("X-Request-ID", "5f1e0c2a9b")])
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "PATH_INFO": '/api/files/"x"',
               "SERVER_PROTOCOL": "HTTP/1.1", "RAW_URI": "/api/files", "QUERY_STRING": "max_downloads=1",
               "HTTP_USER_AGENT": "curl/8"}
    ours = _line(CONF["AccessLogger"], resp, environ, took)
    assert ours == _line(glogging.Logger, resp, environ, took)
    assert "-" not in ours.split('"')[-1].split()  # every atom of the format was filled in


def test_the_format_uses_only_atoms_the_logger_builds():
    built = CONF["AccessLogger"].atoms(None, SimpleNamespace(status="200 OK", sent=1, headers=[]), None, {},
                                      datetime.timedelta(0))
    assert set(re.findall(r"%\(([^)]+)\)s", CONF["access_log_format"])) <= set(built)
    assert CONF["logger_class"] is CONF["AccessLogger"]


@pytest.mark.parametrize("target", ["-", "file"])
def test_access_writes_what_the_stock_logger_writes(monkeypatch, tmp_path, target):
    resp = SimpleNamespace(status="200 OK", sent=5, headers=[])
    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "GET", "PATH_INFO": '/api/"q"',
               "SERVER_PROTOCOL": "HTTP/1.1", "RAW_URI": '/api/"q"', "QUERY_STRING": ""}
    written, loggers = {}, {}
    for label, logger_class in (("ours", CONF["AccessLogger"]), ("stock", glogging.Logger)):
        stdout = io.StringIO()
        monkeypatch.setattr(sys, "stdout", stdout)
        cfg = Config()
        cfg.set("accesslog", "-" if target == "-" else str(tmp_path / f"{label}.log"))
        cfg.set("access_log_format", CONF["access_log_format"])
        logger = loggers[label] = logger_class(cfg)
        for _ in range(2):
            logger.access(resp, SimpleNamespace(headers=[]), environ, datetime.timedelta(microseconds=1500))
        written[label] = stdout.getvalue() if target == "-" else (tmp_path / f"{label}.log").read_text()
    assert written["ours"] == written["stock"]
    # Only gunicorn's own handler, as in a server (pytest adds its capture handlers here): no LogRecord then.
    access_log = loggers["ours"].access_log
    monkeypatch.setattr(access_log, "handlers", [h for h in access_log.handlers if getattr(h, "_gunicorn", False)])
    monkeypatch.setattr(logging.Logger, "makeRecord", lambda *a, **k: pytest.fail("ours made a LogRecord"))
    loggers["ours"].access(resp, SimpleNamespace(headers=[]), environ, datetime.timedelta(0))  # stock's would
    assert written["ours"].count("\n") == 2 and '/api/\\"q\\"' in written["ours"]


# -- KeepAliveWorker, on a real gunicorn with this config ----------------------------------------

@pytest.fixture
def threads_server(tmp_path):
    """Start gunicorn with gunicorn.conf.py, ``workers`` of ``threads`` threads, serving tests/threads_app.py."""
    servers = []

    def start(threads: int, workers: int = 1) -> int:
        port = free_port()
        env = gunicorn_env(tmp_path / "files", tmp_path / "private", random_secret_key(), workers=workers,
                           extra={"GUNICORN_THREADS": str(threads)})  # a valid config: on_starting checks it
        process = subprocess.Popen([str(GUNICORN), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",  # noqa: S603
                                    "tests.threads_app:app"], cwd=BACKEND_DIR, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(process)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

    yield start
    for process in servers:
        process.terminate()
        process.wait(timeout=30)


class _Client:
    """One kept-alive HTTP/1.1 connection; ``get`` answers "<worker pid> <label of the hand-off that served it>"."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")

    def get(self) -> str:
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert self.file.readline().startswith(b"HTTP/1.1 200")
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return self.file.read(length).decode()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_a_thread_keeps_serving_its_connection_while_requests_keep_coming(threads_server):
    client = _Client(threads_server(threads=4))
    # Stock gthread hands the connection back to the main thread after each request and submits it to
    # the pool again: 30 hand-offs. Ours: one, whose thread serves all 30 (one more each time this
    # client stalls for longer than the hold between two requests, as a loaded CI machine may make it).
    assert len({client.get() for _ in range(30)}) <= 10
    first = client.get()
    time.sleep(CONF["KeepAliveWorker"].HOLD * 5)  # idle for longer than the hold: back to the poller
    assert client.get() != first  # and still kept alive: a new hand-off serves it
    client.close()


def test_no_connection_waits_for_a_thread_that_another_one_holds(threads_server):
    port = threads_server(threads=2)
    busy, done = [_Client(port), _Client(port)], threading.Event()

    def hammer(client: _Client) -> None:  # requests back to back: each would hold its thread for ever
        while not done.is_set():
            client.get()

    threads = [threading.Thread(target=hammer, args=(client,)) for client in busy]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    late = _Client(port)  # a third connection on a worker of two threads
    deadline = threading.Timer(15, done.set)  # the two others stop sending then, at the latest
    deadline.start()
    try:
        assert late.get()
        answered_while_busy = not done.is_set()
    finally:
        deadline.cancel()
        done.set()
        for thread in threads:
            thread.join()
    assert answered_while_busy  # not only once the other two stopped


def test_gthread_still_has_the_hook_the_socket_timeout_uses():
    from gunicorn.workers.gthread import ThreadWorker

    params = list(inspect.signature(ThreadWorker.handle_request).parameters)
    assert params[:3] == ["self", "req", "conn"], (
        "gunicorn's gthread no longer has handle_request(req, conn), where KeepAliveWorker sets the socket "
        "timeout (gunicorn.conf.py); tests/integration/test_slow_clients.py checks that the timeout works")
