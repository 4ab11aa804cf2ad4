"""Passphrase wrapping: scrypt parameters, round trip, wrong passphrase, bounded concurrency."""

import os
import threading

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


def test_derivations_are_bounded(monkeypatch):
    running, peak, lock = [0], [0], threading.Lock()
    real = pp.Scrypt.derive

    def counting(self, data):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return real(self, data)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(pp.Scrypt, "derive", counting)
    threads = [threading.Thread(target=pp.wrap, args=(os.urandom(32), "x")) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == pp.MAX_CONCURRENT
