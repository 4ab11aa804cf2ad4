"""A request body of known length read from gunicorn's socket into one reused buffer.

Contract: ``socket_body(environ)`` returns a ``read(size) -> bytes`` for a body gunicorn
will end at its Content-Length, or None when the server is not gunicorn's HTTP/1 (then the
caller reads ``wsgi.input``). Each call returns the next ``size`` bytes as one new ``bytes``
(fewer only at the end of the body, b"" after it), taking first what gunicorn already
read ahead and then ``recv_into`` a buffer kept for the request. gunicorn's own reader
copies each MiB four times through ``BytesIO`` buffers: an upload's worker held 6.7-9.7 MiB
at its peak that way (docs/performance.md, "Where the time goes"). A socket error or timeout
is raised as it comes, and marks the body failed so that gunicorn closes the connection.

gunicorn internals it relies on (``gunicorn.http.body``, ``gunicorn.http.unreader``; checked by
tests/serving/test_internals.py):
- ``environ["wsgi.input"]`` is a ``Body`` whose ``reader`` is a ``LengthReader`` when the request
  has a Content-Length, ``Body.buf`` (a ``BytesIO``) holds what the Body read and has not returned
  yet, and ``Body.failed`` makes gunicorn close the connection after the request;
- ``LengthReader.length`` counts the body bytes not yet taken from ``LengthReader.unreader``, whose
  ``buf`` (a ``BytesIO``) holds bytes received and not yet taken: the body's, and after them any
  of the next request's;
- ``environ["gunicorn.socket"]`` is the connection's socket, at the position after ``unreader.buf``.
"""

import io

try:
    from gunicorn.http.body import Body, LengthReader
except ImportError:  # another server: the caller reads wsgi.input
    Body = LengthReader = None


def socket_body(environ: dict):
    body, sock = environ.get("wsgi.input"), environ.get("gunicorn.socket")
    if Body is None or sock is None or type(body) is not Body or type(body.reader) is not LengthReader:
        return None
    return _SocketBody(body, sock).read


class _SocketBody:
    def __init__(self, body, sock):
        self.body, self.reader, self.sock = body, body.reader, sock
        self.buffer = None

    def read(self, size: int) -> bytes:
        try:
            return self._read(size)
        except BaseException:
            self.body.failed = True
            raise

    def _read(self, size: int) -> bytes:
        held = self._take_held(size)
        want = min(size - len(held), self.reader.length)
        if want <= 0:
            return held
        if self.buffer is None or len(self.buffer) < size:
            self.buffer = bytearray(size)
        view, got = memoryview(self.buffer), len(held)
        view[:got] = held
        filled = got
        while filled < got + want:
            n = self.sock.recv_into(view[filled:got + want])
            if not n:
                break  # the client is gone: a short body, which the caller's length check refuses
            filled += n
        self.reader.length -= filled - got
        return bytes(view[:filled])

    def _take_held(self, size: int) -> bytes:
        """What gunicorn read ahead: the Body's buffer, then the body's part of the unreader's."""
        held = self.body.buf.getvalue()
        if held:
            self.body.buf = io.BytesIO()
            if len(held) > size:
                self.body.buf.write(held[size:])
                return held[:size]
        unreader = self.reader.unreader
        ahead = unreader.buf.getvalue()
        if ahead and self.reader.length:
            take = min(len(ahead), self.reader.length, size - len(held))
            unreader.buf = io.BytesIO()
            unreader.buf.write(ahead[take:])
            self.reader.length -= take
            held += ahead[:take]
        return held
