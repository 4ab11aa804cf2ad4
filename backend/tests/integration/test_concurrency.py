"""16 clients at once upload and download 64 files of mixed sizes, byte for byte.

Sizes run from 0 bytes to a few MiB and include every size around the 1 MiB
encryption chunk (1048576) and its multiples; the two upload forms alternate.
Each client uploads a file, then downloads it and compares it with what it sent.
"""

import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from .transfer import MIB, UPLOADERS, download_bytes

pytestmark = pytest.mark.site

CLIENTS = 16
FILES = 64
BOUNDARY_SIZES = [0, 1, 2, 100, 65535, 65536, 65537,
                  MIB - 1, MIB, MIB + 1, 2 * MIB - 1, 2 * MIB, 2 * MIB + 1, 3 * MIB - 1, 3 * MIB, 3 * MIB + 1]


def mixed_sizes() -> list[int]:
    rng = random.Random(20240229)
    sizes = BOUNDARY_SIZES + [rng.randrange(0, 4 * MIB) for _ in range(FILES - len(BOUNDARY_SIZES))]
    rng.shuffle(sizes)
    return sizes


def test_concurrent_clients_round_trip_mixed_files_byte_exactly(server):
    sessions = threading.local()
    sizes = mixed_sizes()

    def round_trip(number: int) -> str | None:
        """Upload file ``number`` and read it back; None when it came back identical, else what went wrong."""
        if not hasattr(sessions, "session"):
            sessions.session = server.session()
        form = "raw" if number % 2 else "multipart"
        data = os.urandom(sizes[number])
        name = f"file-{number}-{len(data)}.bin"
        response = UPLOADERS[form](server, data, name, session=sessions.session)
        if response.status_code != 201:
            return f"#{number} {form} {len(data)} B: upload answered {response.status_code} {response.text}"
        answer = response.json()
        if (answer["name"], answer["size"]) != (name, len(data)):
            return f"#{number} {form} {len(data)} B: upload answered {answer['name']!r}, {answer['size']} B"
        received = download_bytes(server, answer["token"], sessions.session)
        if received != data:
            return f"#{number} {form} {len(data)} B: downloaded {len(received)} B that differ from the upload"
        return None

    with ThreadPoolExecutor(CLIENTS) as pool:
        problems = [p for p in pool.map(round_trip, range(FILES)) if p is not None]

    assert problems == []
