"""The HTTP layer through Flask's test client."""

import io

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

# Werkzeug's test client names a multipart boundary after time() and random(): 71 to 74
# characters about once in 400 bodies. RFC 2046 allows 70 and uploads.py refuses more (400), so
# multipart bodies in these tests carry a fixed boundary instead.
BOUNDARY = "AnonHostingTestBoundary-0123456789"


def post_multipart(client, fields: dict, path: str = "/api/files"):
    """POST ``fields`` in order as multipart; a value (bytes, filename) is a file part."""
    values = {name: FileStorage(io.BytesIO(value[0]), filename=value[1]) if isinstance(value, tuple) else value
              for name, value in fields.items()}
    boundary, body = encode_multipart(values, boundary=BOUNDARY)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")
