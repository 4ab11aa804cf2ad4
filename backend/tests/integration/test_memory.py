"""Worker memory after a burst of concurrent big transfers (backend/gunicorn.conf.py's glibc settings).

A worker's RSS must come back down once transfers end: glibc left alone keeps the
1 MiB buffers that every transfer thread freed, so RSS stays at the burst's
high-water mark and creeps up over a long run (40 -> 170 MiB in a 10-minute soak).
"""

import os
import threading

from stacklib import memory

from .transfer import MIB, download_bytes, upload_raw, wait_until

THREADS = 8
SIZE = 24 * MIB
TRIM_EVERY = 5  # backend/gunicorn.conf.py


def rss(server) -> dict[int, int]:
    return memory.worker_rss(server.process.pid)


def test_worker_rss_comes_back_down_after_a_burst_of_big_transfers(serve):
    with serve("memory", workers=1) as server:
        upload_raw(server, b"warm", "warm.bin")  # imports and first-request set-up happen before the baseline
        (pid, before), = rss(server).items()
        payload, failures = os.urandom(SIZE), []

        def round_trip():
            answer = upload_raw(server, payload, "big.bin")
            if answer.status_code != 201 or download_bytes(server, answer.json()["token"]) != payload:
                failures.append(answer.status_code)

        for _ in range(2):
            threads = [threading.Thread(target=round_trip) for _ in range(THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert not failures
        during = rss(server)[pid]
        back = wait_until(lambda: rss(server)[pid] <= before + 16 * MIB, timeout=3 * TRIM_EVERY, interval=0.5)
        after = rss(server)[pid]
        assert back, (f"worker RSS {before / MIB:.1f} MiB before, {during / MIB:.1f} right after the burst, "
                      f"still {after / MIB:.1f} MiB {3 * TRIM_EVERY} s later")
