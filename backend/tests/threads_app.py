"""A WSGI app for tests/test_gunicorn_conf.py: answers which worker, and which hand-off to its thread pool, served it.

gthread submits a connection to its thread pool as one work item each time it hands the
connection to a thread; the app labels the work item that runs it (the same label for every
request served within one hand-off) and answers "<worker pid> <label>".
"""

import itertools
import os
import sys

_LABELS = itertools.count(1)


def app(environ, start_response):
    environ["wsgi.input"].read()
    body = f"{os.getpid()} {_work_item_label()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _work_item_label() -> int:
    frame = sys._getframe(1)
    while frame is not None:
        item = frame.f_locals.get("self")
        if type(item).__name__ == "_WorkItem":  # concurrent.futures.thread: one per submit()
            if not hasattr(item, "label"):
                item.label = next(_LABELS)
            return item.label
        frame = frame.f_back
    raise RuntimeError("not run by a thread pool")
