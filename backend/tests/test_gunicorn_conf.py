"""backend/gunicorn.conf.py: the lean access logger writes the line gunicorn's own logger would."""

import datetime
import re
import runpy
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
    resp = SimpleNamespace(status=status, sent=sent, headers=[("Content-Type", "application/json")])
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "PATH_INFO": '/api/files/"x"',
               "SERVER_PROTOCOL": "HTTP/1.1", "RAW_URI": "/api/files", "QUERY_STRING": "max_downloads=1",
               "HTTP_USER_AGENT": "curl/8"}
    ours = _line(CONF["AccessLogger"], resp, environ, took)
    assert ours == _line(glogging.Logger, resp, environ, took)
    assert "-" not in ours.split('"')[-1].split()  # every atom of the format was filled in


def test_the_format_uses_only_atoms_the_logger_builds():
    built = CONF["AccessLogger"].atoms(None, SimpleNamespace(status="200 OK", sent=1), None, {},
                                      datetime.timedelta(0))
    assert set(re.findall(r"%\((\w+)\)s", CONF["access_log_format"])) <= set(built)
    assert CONF["logger_class"] is CONF["AccessLogger"]
