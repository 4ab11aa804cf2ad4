"""Keys derived from a resumable upload's secret: bound to the secret, the upload id and the purpose."""

import os

import pytest

from anon_hosting.crypto.upload_secret import UploadKeys, WrongSecret

ID = "A" * 43


def test_a_sealed_value_opens_with_the_same_secret_and_id_only():
    secret = os.urandom(32)
    sealed = UploadKeys(secret, ID).seal(b"file key", b"k" * 32)
    assert UploadKeys(secret, ID).open(b"file key", sealed) == b"k" * 32
    for keys in (UploadKeys(os.urandom(32), ID), UploadKeys(secret, "B" * 43)):
        with pytest.raises(WrongSecret):
            keys.open(b"file key", sealed)


def test_the_purpose_is_bound_and_a_flipped_bit_fails():
    keys = UploadKeys(os.urandom(32), ID)
    sealed = keys.seal(b"file key", b"k" * 32)
    with pytest.raises(WrongSecret):
        keys.open(b"options", sealed)
    with pytest.raises(WrongSecret):
        keys.open(b"file key", sealed[:-1] + bytes([sealed[-1] ^ 1]))


def test_the_verifier_matches_its_secret_only_and_is_not_the_secret():
    secret = os.urandom(32)
    keys = UploadKeys(secret, ID)
    assert keys.matches(UploadKeys(secret, ID).verifier)
    assert not keys.matches(UploadKeys(os.urandom(32), ID).verifier)
    assert secret not in keys.verifier and keys.verifier != secret


@pytest.mark.parametrize("size", [0, 31, 65])
def test_a_secret_of_the_wrong_size_is_refused(size):
    with pytest.raises(ValueError):
        UploadKeys(os.urandom(size), ID)
