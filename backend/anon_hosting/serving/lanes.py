"""Which requests are transfers: the ones that may hold a worker thread for as long as a large file takes.

Contract: ``is_transfer(head)`` reads the first bytes of a request (its request line and headers, as
far as they have arrived) and answers True for a download (``POST /api/files/retrieve``, whatever
the file's size, which only the token knows), for a body over ``SHORT_BODY_MAX`` or of unknown
length (chunked), and for anything it cannot read. Everything else is short work: info, delete,
small uploads, tus HEAD and creation, health, metrics. The answer only picks a lane
(serving/worker.py); every request is served the same way whichever lane it takes.
"""

SHORT_BODY_MAX = 64 << 10  # as large as any body nginx reads whole (client_max_body_size outside uploads)
TRANSFER_PATHS = (b"/api/files/retrieve",)
BODY_METHODS = (b"POST", b"PUT", b"PATCH")


def is_transfer(head: bytes) -> bool:
    line_end = head.find(b"\r\n")
    parts = head[:line_end].split(b" ") if line_end > 0 else []
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return True
    method, path = parts[0], parts[1].split(b"?", 1)[0]
    if path in TRANSFER_PATHS:
        return True
    if method not in BODY_METHODS:
        return False
    end = head.find(b"\r\n\r\n")
    length = None
    for line in head[line_end + 2:end if end >= 0 else len(head)].split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit() or length is not None:
                return True
            length = int(value)
    return length is None or length > SHORT_BODY_MAX
