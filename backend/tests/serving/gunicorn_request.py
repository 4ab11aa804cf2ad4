"""A request parsed by gunicorn's own parser from a socket, with the WSGI environ gunicorn would give the app."""

import socket

from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import create

CLIENT, SERVER = ("127.0.0.1", 1), ("127.0.0.1", 2)


def parse(sock: socket.socket) -> tuple[RequestParser, dict]:
    """gunicorn's parser on ``sock`` (for the requests after the first) and the first request's environ."""
    cfg = Config()
    parser = RequestParser(cfg, sock, CLIENT)
    _, environ = create(next(parser), sock, CLIENT, SERVER, cfg)
    return parser, environ
