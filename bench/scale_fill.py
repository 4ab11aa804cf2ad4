"""Fill a store fast through the storage layer, not HTTP: the stored files of bench/scale.py.

Contract: ``fill(storage, count, expired=0, now=None)`` puts ``count`` files through
``storage.put`` from ``THREADS`` threads (so the local index's group commit shares its
fsyncs between them) and returns how many it put. Each file has a real first state
(``lifecycle.new``): ``expired`` of them expired an hour before ``now``, the others expire
a week after it, with no download limit. A blob is ``SMALL`` random bytes, the size a
4 KiB upload stores, except every ``BIG_EVERY``-th, which is just over the local index's
inline limit so that local storage keeps it as a blob file beside the index. The files
cannot be downloaded (no token names them); they are there to be stored, listed and swept.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "backend"))

from anon_hosting import lifecycle  # noqa: E402
from anon_hosting.storage.index import INLINE_MAX  # noqa: E402

THREADS = 32
SMALL = 4096 + 64  # a 4 KiB upload's blob: header, one chunk and its tag, rounded up
BIG = INLINE_MAX + 1024
BIG_EVERY = 20
WEEK, HOUR = 7 * 86400, 3600


def fill(storage, count: int, expired: int = 0, now: float | None = None) -> int:
    """Put ``count`` files (``expired`` of them already expired at ``now``) into ``storage``; return the count."""
    now = time.time() if now is None else now
    payload = os.urandom(BIG)
    numbers = itertools.count()

    def put(_: int) -> int:
        number = next(numbers)  # itertools.count is atomic under the GIL
        state = lifecycle.new(int(now - HOUR if number < expired else now + WEEK), None)
        size = BIG if number % BIG_EVERY == BIG_EVERY - 1 else SMALL
        storage.put(secrets.token_urlsafe(32), [payload[:size]], state)
        return 1

    with ThreadPoolExecutor(THREADS) as pool:
        return sum(pool.map(put, range(count), chunksize=64))


def main(argv: list[str] | None = None) -> int:
    """``scale_fill.py FOLDER COUNT [EXPIRED]``: fill a local store by hand, printing the rate."""
    args = sys.argv[1:] if argv is None else argv
    from anon_hosting.storage.local import LocalStorage

    started = time.perf_counter()
    done = fill(LocalStorage(Path(args[0])), int(args[1]), int(args[2]) if len(args) > 2 else 0)
    seconds = time.perf_counter() - started
    print(f"{done} files in {seconds:.1f} s ({done / seconds:.0f} per second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
