"""serving/pool.py: gthread's thread pool, whose threads can retire. Real threads throughout."""

import random
import threading

import pytest

from anon_hosting.serving.pool import Pool

WAIT = 10  # seconds; a lost wake-up would hang for ever instead


def test_tasks_run_at_most_size_at_once_and_the_rest_wait_their_turn():
    pool, release, lock = Pool(3), threading.Event(), threading.Lock()
    running, most = [0], [0]

    def task(n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(WAIT)
        with lock:
            running[0] -= 1
        return n * 2

    futures = [pool.submit(task, n) for n in range(7)]
    threading.Timer(0.2, release.set).start()
    assert [f.result(WAIT) for f in futures] == [n * 2 for n in range(7)]
    assert most[0] == 3
    pool.shutdown(wait=True)


def test_an_exception_reaches_the_future_and_the_thread_serves_on():
    pool = Pool(1)

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        pool.submit(fail).result(WAIT)
    assert pool.submit(lambda: "after").result(WAIT) == "after"
    pool.shutdown(wait=True)


def test_a_retired_thread_ends_after_its_task_and_a_new_one_takes_the_next():
    pool = Pool(1)

    def retiring():
        pool.retire()
        return threading.current_thread()

    first = pool.submit(retiring).result(WAIT)
    first.join(WAIT)
    assert not first.is_alive(), "the thread that retired still runs"
    second = pool.submit(threading.current_thread).result(WAIT)
    assert second is not first and second.is_alive()
    assert pool.submit(threading.current_thread).result(WAIT) is second, "a thread that did not retire is reused"
    pool.shutdown(wait=True)
    assert not second.is_alive()


def test_a_task_queued_behind_a_retiring_thread_gets_a_new_one():
    pool, gate = Pool(1), threading.Event()

    def retiring():
        gate.wait(WAIT)
        pool.retire()

    pool.submit(retiring)
    queued = pool.submit(lambda: "served")
    gate.set()
    assert queued.result(WAIT) == "served"
    pool.shutdown(wait=True)


def test_shutdown_finishes_what_is_queued_and_refuses_more():
    pool, gate = Pool(1), threading.Event()
    first = pool.submit(gate.wait, WAIT)
    second = pool.submit(lambda: "queued")
    pool.shutdown(wait=False)
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
    gate.set()
    assert first.result(WAIT) is True and second.result(WAIT) == "queued"


def test_many_tasks_from_many_threads_with_retirements_all_run():
    pool, rng, done = Pool(4), random.Random(7), []
    retire = [rng.random() < 0.3 for _ in range(2000)]

    def task(n):
        if retire[n]:
            pool.retire()
        return n

    def submitter(start):
        done.extend(pool.submit(task, n) for n in range(start, 2000, 4))

    submitters = [threading.Thread(target=submitter, args=(s,)) for s in range(4)]
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join()
    assert sorted(f.result(WAIT) for f in done) == list(range(2000))
    pool.shutdown(wait=True)


def test_two_tasks_given_at_once_to_one_idle_thread_run_together_while_there_is_room():
    pool = Pool(2)
    pool.submit(lambda: None).result(WAIT)  # one thread, now idle
    both = threading.Barrier(2, timeout=WAIT)
    futures = [pool.submit(both.wait) for _ in range(2)]
    assert sorted(f.result(WAIT) for f in futures) == [0, 1], "the second task waited for the first"
    pool.shutdown(wait=True)
