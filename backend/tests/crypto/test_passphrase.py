"""Passphrase wrapping: scrypt parameters, round trip, wrong passphrase, bounded concurrency."""

import os
import threading
import time

import pytest

from anon_hosting.crypto import passphrase as pp


def test_parameters_are_memory_hard_enough():
    assert pp.SCRYPT_N >= 2**15 and pp.SCRYPT_R == 8


def test_round_trip_and_wrong_passphrase():
    key = os.urandom(32)
    salt, wrapped = pp.wrap(key, "correct horse")
    assert len(salt) == 16 and len(wrapped) == 48 and key not in wrapped
    assert pp.unwrap(wrapped, salt, "correct horse") == key
    with pytest.raises(pp.WrongPassphrase):
        pp.unwrap(wrapped, salt, "correct hors")
    with pytest.raises(pp.WrongPassphrase):
        pp.unwrap(wrapped, os.urandom(16), "correct horse")


def test_same_passphrase_gives_different_wrappings():
    key = os.urandom(32)
    assert pp.wrap(key, "p")[1] != pp.wrap(key, "p")[1]


class _Held:
    """Scrypt.derive replaced by a call that blocks until ``release`` is set, counting who is inside."""

    def __init__(self):
        self.inside, self.peak, self.lock, self.release = 0, 0, threading.Lock(), threading.Event()

    def derive(self, data):
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)
        self.release.wait(30)
        with self.lock:
            self.inside -= 1
        return bytes(32)


class _CountingSlots:
    """The slot semaphore, counting the threads that have asked for a slot."""

    def __init__(self, slots):
        self._slots, self.asked, self._lock = slots, 0, threading.Lock()

    def acquire(self, timeout=None):
        with self._lock:
            self.asked += 1
        return self._slots.acquire(timeout=timeout)

    def release(self):
        self._slots.release()


def _wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the derivation threads never got there"
        time.sleep(0.005)


def test_derivations_are_bounded_and_a_full_queue_is_refused_at_once(monkeypatch):
    held, slots = _Held(), _CountingSlots(pp._slots)
    monkeypatch.setattr(pp.Scrypt, "derive", held.derive)
    monkeypatch.setattr(pp, "_slots", slots)
    monkeypatch.setattr(pp, "MAX_WAIT", 30)  # the queued ones wait for the holder, however slow the machine
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(pp.wrap(os.urandom(32), "x")))
               for _ in range(pp.MAX_CONCURRENT + pp.MAX_WAITING)]
    for t in threads:
        t.start()
    _wait_for(lambda: slots.asked == len(threads) and held.inside == pp.MAX_CONCURRENT)
    started = time.monotonic()
    with pytest.raises(pp.Busy):
        pp.wrap(os.urandom(32), "x")
    assert slots.asked == len(threads), "a derivation past the queue must not even wait for a slot"
    assert time.monotonic() - started < 10  # at once, not after MAX_WAIT (30 s here)
    held.release.set()
    for t in threads:
        t.join()
    assert held.peak == pp.MAX_CONCURRENT and len(outcomes) == len(threads)


def test_a_queued_derivation_gives_up_after_max_wait(monkeypatch):
    held = _Held()
    monkeypatch.setattr(pp.Scrypt, "derive", held.derive)
    monkeypatch.setattr(pp, "MAX_WAIT", 0.05)
    holder = threading.Thread(target=pp.wrap, args=(os.urandom(32), "x"))
    holder.start()
    _wait_for(lambda: held.inside == 1)
    try:
        with pytest.raises(pp.Busy):
            pp.wrap(os.urandom(32), "x")
    finally:
        held.release.set()
        holder.join()
    assert len(pp.wrap(os.urandom(32), "y")[1]) == 48  # the slot and the queue place were given back
