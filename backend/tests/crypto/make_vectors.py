"""Regenerate vectors.json (only when the format version changes on purpose): python -m tests.crypto.make_vectors"""

import json
from pathlib import Path

from anon_hosting.crypto import stream

KEY = bytes(range(32))
SALT = bytes(range(100, 132))
CASES = [("empty", 0, 16), ("one byte", 1, 16), ("chunk-1", 65535, 16), ("chunk", 65536, 16),
         ("chunk+1", 65537, 16), ("2chunks+500", 2 * 65536 + 500, 16), ("1MiB chunks", 1048577, 20)]


def plaintext(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


def main() -> None:
    import hashlib
    vectors = []
    for label, size, code in CASES:
        blob = b"".join(stream.encrypt(KEY, [plaintext(size)], chunk_code=code, salt=SALT))
        vectors.append({"label": label, "size": size, "chunk_code": code, "key": KEY.hex(), "salt": SALT.hex(),
                        "blob_sha256": hashlib.sha256(blob).hexdigest(), "blob_length": len(blob),
                        "blob_head_hex": blob[:96].hex(), "blob_tail_hex": blob[-48:].hex()})
    Path(__file__).with_name("vectors.json").write_text(json.dumps(vectors, indent=1) + "\n")


if __name__ == "__main__":
    main()
