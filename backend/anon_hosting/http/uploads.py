"""Request bodies: the two upload forms, and the token body of info/retrieve.

Contract: ``upload_body(request, max_bytes, max_files)`` returns an ``UploadBody``
whose ``files`` yields a ``(name, chunks)`` pair per file part (a raw body is one
file), each ``chunks`` yielding the file's bytes as they arrive from the socket
(nothing is spooled to disk or memory; read each to its end before the next
pair); they raise ``BadRequest`` for a cut or malformed body, a form without a
file part or more than ``max_files`` of them, and ``TooLarge`` past ``max_bytes``
(per body; the service counts the files' total). ``fields()`` holds the option
fields seen so far (for a raw body: query parameters, and the passphrase from the
percent-encoded ``X-Passphrase`` header, never from the URL). ``X-File-Name``
and ``X-Passphrase`` holding raw non-ASCII bytes are refused (``BadRequest``
naming the header), never read as Latin-1. A body that stalls past the
server's socket timeout raises ``RequestTimeout``.
``finish_body(request, limit)`` reads what an answer left unread of a body declared
no longer than ``limit`` (default ``FINISH_LIMIT``) bytes, and never raises.
``credentials_from(request)`` returns the token and optional passphrase from a
JSON or form-encoded body, and ``file_index_from(request)`` its optional ``file``
index; ``small_body(request)`` is such a body's object; JSON nested too deeply to parse is ``BadRequest``.
"""

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import unquote

from flask import Request
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from .. import metrics
from ..errors import BadRequest, CutShort, RequestTimeout, TooLarge, UnsupportedMediaType
from ..serving.body import socket_body

READ_SIZE = 1 << 20
MAX_FIELDS = 8
MAX_FIELD_BYTES = 1024
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file
PART_SLACK = 4096  # the boundary and headers of each further file part (a path of up to 1024 characters)
MAX_PARSER_BUFFER = READ_SIZE + MULTIPART_SLACK  # a part header or preamble may not grow past this
QUERY_OPTIONS = ("expires_in", "max_downloads")
FINISH_LIMIT = 1 << 20  # more than any request body but a file's


class UploadBody:
    def __init__(self, files: Iterator[tuple[str, Iterator[bytes]]], fields: dict[str, str]):
        self.files, self._fields = files, fields

    def fields(self) -> dict[str, str]:
        return self._fields


def multipart_limit(max_bytes: int, max_files: int) -> int:
    """The longest multipart body that may carry ``max_bytes`` of files in ``max_files`` parts."""
    return max_bytes + MULTIPART_SLACK + PART_SLACK * (max_files - 1)


def upload_body(request: Request, max_bytes: int, max_files: int = 1) -> UploadBody:
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        _check_length(request, multipart_limit(max_bytes, max_files))
        return _multipart(request, max_files)
    if mimetype == "application/octet-stream":
        _check_length(request, max_bytes)
        return _raw(request)
    raise UnsupportedMediaType()


def credentials_from(request: Request) -> tuple[object, str | None]:
    body = small_body(request)
    token, passphrase = body.get("token"), body.get("passphrase")
    if token is None:
        raise BadRequest("The request has no token.")
    if passphrase is not None and not isinstance(passphrase, str):
        raise BadRequest("The passphrase must be a string.")
    return token, passphrase or None


def file_index_from(request: Request) -> int | None:
    """The optional ``file`` of a retrieve body: a bundle's file index, as a JSON integer or a form field."""
    raw = small_body(request).get("file")
    if raw is None or raw == "":
        return None
    if type(raw) is int or (isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10):
        return int(raw)
    raise BadRequest("file must be the index of a file in the bundle, a whole number.")


def small_body(request: Request, shape: str = '{"token": "..."}'):
    """A small body's JSON object or form fields (``BadRequest`` for anything else in JSON)."""
    try:
        if request.is_json:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise BadRequest(f"Send a JSON object like {shape}.")
            return body
        if request.mimetype == "application/x-www-form-urlencoded":
            return request.form
    except RecursionError:  # json's decoder recurses once per nesting level
        raise BadRequest("The JSON body is nested too deeply.") from None
    except TimeoutError:
        raise RequestTimeout() from None
    raise UnsupportedMediaType('Send the token as JSON {"token": "..."} or as a form field named token.')


def finish_body(request: Request, limit: int = FINISH_LIMIT) -> None:
    """Read the rest of a small request body (a Content-Length up to ``limit``) before the answer goes out.

    nginx streams every API request's body to us (proxy_request_buffering off, so that no upload
    touches its disk). An answer given from the headers alone (a token in the URL, a wrong
    Content-Type, a refused file name or option, a rate limit) could reach nginx while it was
    still reading the body; nginx then sends it with "Connection: keep-alive" but closes the
    connection, and the client's next request on it gets no answer (docs/reliability.md,
    finding 7). Reading the rest of a small body first keeps that connection usable. A larger or
    unsized body is left: a client sending a big file, or waiting for the verdict on its headers
    before sending it, is answered at once, and nginx closes that connection as before. Any error
    here means the client is gone or its body is broken; the answer goes out all the same.
    """
    if request.content_length is None or request.content_length > limit:
        return
    try:
        stream = _body_stream(request)
        while stream.read(READ_SIZE):
            pass
    except (OSError, HTTPException, ValueError):  # gunicorn's NoMoreData is an OSError
        return


def body_chunks(request: Request, max_bytes: int) -> Iterator[bytes]:
    """A raw body as it arrives (``TooLarge`` when its Content-Length is over ``max_bytes``)."""
    _check_length(request, max_bytes)
    return _read(request)


def _check_length(request: Request, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge()


def _body_stream(request: Request) -> BinaryIO:
    """The body stream. A server that ends ``wsgi.input`` at Content-Length itself (gunicorn says so with
    ``wsgi.input_terminated``) is read directly: werkzeug's LimitedStream around it adds two copies of
    every MiB (a quarter of an upload's CPU). Its limit is no loss: the length was checked against the
    upload limit before (``_check_length``). A body without a length (chunked) keeps the wrapper."""
    environ = request.environ
    if environ.get("wsgi.input_terminated") and request.content_length is not None:
        return environ["wsgi.input"]
    return request.stream


def _read(request: Request) -> Iterator[bytes]:
    """The body as it arrives; a body shorter than its Content-Length is an error, never a short file."""
    read = socket_body(request.environ) or _body_stream(request).read
    expected, received = request.content_length, 0
    try:
        while True:
            try:
                piece = read(READ_SIZE)
            except TimeoutError:
                raise RequestTimeout() from None
            if not piece:
                break
            received += len(piece)
            yield piece
    finally:
        metrics.count(metrics.UPLOAD_BYTES, received)
    if expected is not None and received != expected:
        raise CutShort()


def _raw(request: Request) -> UploadBody:
    name = _header(request, "X-File-Name")
    fields = {k: request.args[k] for k in QUERY_OPTIONS if k in request.args}
    passphrase = _header(request, "X-Passphrase")
    if passphrase:
        fields["passphrase"] = passphrase
    return UploadBody(iter([(name, _read(request))]), fields)


def _header(request: Request, name: str) -> str:
    raw = request.headers.get(name, "")
    if not raw.isascii():  # WSGI hands header bytes over as Latin-1: UTF-8 would arrive garbled
        raise BadRequest(f"{name} holds raw non-ASCII characters. Percent-encode it as UTF-8 "
                         "(encodeURIComponent in JavaScript): p%C3%A4ss for päss.")
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{name} must be percent-encoded UTF-8.") from None


def _multipart(request: Request, max_files: int) -> UploadBody:
    boundary = request.mimetype_params.get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise BadRequest("The multipart body has no valid boundary.")
    decoder = MultipartDecoder(boundary.encode("latin-1"), max_parts=MAX_FIELDS + max_files)
    fields: dict[str, str] = {}
    return UploadBody(_files(_Parts(decoder, _read(request)), fields, max_files), fields)


def _files(parts: "_Parts", fields: dict[str, str], max_files: int) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Each file part as it comes, filling ``fields`` with the fields before, between and after them."""
    count = field_count = 0
    for event in parts:
        if isinstance(event, File):
            if event.name != "file":
                raise BadRequest("The file must be sent in a part named 'file'.")
            count += 1
            if count > max_files:
                raise TooLarge(f"Send at most {max_files} files in one upload.")
            data = _file_data(parts)
            yield event.filename, data
            for _ in data:  # what the consumer left unread of this part
                pass
        elif isinstance(event, Field):
            field_count += 1
            if field_count > MAX_FIELDS:
                raise BadRequest("The form has too many fields.")
            fields[event.name] = _field_value(parts)
        elif isinstance(event, Epilogue):
            if not count:
                raise BadRequest("The form has no part named 'file'.")
            return
    raise BadRequest("The upload was cut short.")


def _file_data(parts: "_Parts") -> Iterator[bytes]:
    for event in parts:
        if not isinstance(event, Data):
            raise BadRequest("The multipart body is malformed.")
        if event.data:
            yield event.data
        if not event.more_data:
            return
    raise CutShort()


def _field_value(parts: "_Parts") -> str:
    value = bytearray()
    for event in parts:
        if not isinstance(event, Data):
            raise BadRequest("The multipart body is malformed.")
        value += event.data
        if len(value) > MAX_FIELD_BYTES:
            raise BadRequest("A form field is too long.")
        if not event.more_data:
            try:
                return value.decode()
            except UnicodeDecodeError:
                raise BadRequest("Form fields must be UTF-8.") from None
    raise CutShort()


class _Parts:
    """Iterate a MultipartDecoder's events, feeding it from the body; a cut body raises BadRequest."""

    def __init__(self, decoder: MultipartDecoder, body: Iterator[bytes]):
        self._decoder, self._body = decoder, body

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError:
                raise BadRequest("The upload was cut short or is not valid multipart.") from None
            except Exception:  # noqa: BLE001 - werkzeug's RequestEntityTooLarge for too many parts or a huge header
                raise BadRequest("The multipart body has too many parts or oversized headers.") from None
            if not isinstance(event, NeedData):
                return event
            self._decoder.receive_data(next(self._body, None))
            if len(self._decoder.buffer) > MAX_PARSER_BUFFER:
                raise BadRequest("The multipart body has an oversized preamble or part header.")
