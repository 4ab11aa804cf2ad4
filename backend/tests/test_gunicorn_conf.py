"""backend/gunicorn.conf.py: the lean access logger (anon_hosting/serving/access_log.py) writes the line
gunicorn's own logger would."""

import datetime
import io
import logging
import re
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn import glogging
from gunicorn.config import Config

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
