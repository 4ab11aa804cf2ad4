"""Tokens: round trip, size budget, and every hostile token in shared/SECURITY.md."""

import json
import os
import time

import pytest
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import base64url_decode, base64url_encode

from anon_hosting import tokens
from anon_hosting.errors import InvalidToken
from anon_hosting.keys import KeyRing


@pytest.fixture
def keyring(tmp_path):
    return KeyRing(tmp_path / "private", "s" * 40)


def claims(name="report-2026-final.pdf", expires=True):
    now = int(time.time())
    return tokens.FileClaims(name, base64url_encode(os.urandom(32)), os.urandom(32), now,
                             now + 30 * 86400 if expires else None)


def our_key(keyring):
    return keyring.active()[1]


def raw_jwe(key, payload, header):
    token = jwe.JWE(json.dumps(payload).encode() if not isinstance(payload, bytes) else payload,
                    protected=json.dumps(header))
    token.add_recipient(key)
    return token.serialize(compact=True)


def test_round_trip(keyring):
    c = claims()
    assert tokens.verify(tokens.issue(c, keyring), keyring) == c


def test_tokens_are_standard_compact_jwe_that_jwcrypto_reads(keyring):
    c = claims("отчёт.pdf")
    parsed = jwe.JWE(algs=["dir", "A256GCM"])
    parsed.deserialize(tokens.issue(c, keyring), key=our_key(keyring))
    body = json.loads(parsed.payload)
    assert (body["n"], body["s"], base64url_decode(body["k"])) == (c.name, c.storage_name, c.file_key)


def test_tokens_sealed_by_jwcrypto_verify(keyring):
    c = claims()
    body = {"v": 1, "n": c.name, "s": c.storage_name, "k": base64url_encode(c.file_key), "iat": c.created_at,
            "exp": c.expires_at}
    assert tokens.verify(raw_jwe(our_key(keyring), body, {"alg": "dir", "enc": "A256GCM", "kid": "1"}), keyring) == c


def test_each_token_gets_a_fresh_iv(keyring):
    c = claims()
    assert len({tokens.issue(c, keyring).split(".")[2] for _ in range(50)}) == 50


def test_non_ascii_name_round_trips(keyring):
    c = claims("отчёт 📄 ﬁnal.pdf")
    assert tokens.verify(tokens.issue(c, keyring), keyring).name == c.name


def test_token_for_a_20_char_ascii_name_fits_in_360_chars(keyring):
    token = tokens.issue(claims("abcdefghij-klmno.txt"), keyring)
    assert len("abcdefghij-klmno.txt") == 20
    assert len(token) <= 360


def test_header_is_exactly_dir_a256gcm_with_kid(keyring):
    header = json.loads(base64url_decode(tokens.issue(claims(), keyring).split(".")[0]))
    assert header == {"alg": "dir", "enc": "A256GCM", "kid": "1"}


def test_tokens_under_a_rotated_out_key_keep_working(keyring):
    old = tokens.issue(claims(), keyring)
    keyring.rotate()
    new = tokens.issue(claims(), keyring)
    assert json.loads(base64url_decode(new.split(".")[0]))["kid"] == "2"
    tokens.verify(old, keyring)
    tokens.verify(new, keyring)


def test_a_retired_key_stops_its_tokens(keyring):
    old = tokens.issue(claims(), keyring)
    keyring.rotate()
    keyring.retire("1")
    with pytest.raises(InvalidToken):
        tokens.verify(old, keyring)


def _flip(token: str, part: int) -> str:
    parts = token.split(".")
    if not parts[part]:
        parts[part] = "AA"  # the empty key part: anything there is a change
    else:
        raw = bytearray(base64url_decode(parts[part]))
        raw[len(raw) // 2] ^= 0x01
        parts[part] = base64url_encode(bytes(raw))
    return ".".join(parts)


@pytest.mark.parametrize("part", range(5))
def test_a_bit_flip_in_any_part_is_rejected(keyring, part):
    with pytest.raises(InvalidToken):
        tokens.verify(_flip(tokens.issue(claims(), keyring), part), keyring)


def _hostile(keyring) -> dict[str, object]:
    key = our_key(keyring)
    foreign = jwk.JWK.generate(kty="oct", size=256, kid="1")  # another server's key, same kid
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid="1")
    ec = jwk.JWK.generate(kty="EC", crv="P-256", kid="1")
    good = {"v": 1, "n": "a.txt", "s": "A" * 43, "k": base64url_encode(os.urandom(32)), "iat": 1}
    signed = jws.JWS(json.dumps(good).encode())
    signed.add_signature(key, alg="HS256", protected=json.dumps({"alg": "HS256", "kid": "1"}))
    json_serialized = jwe.JWE(json.dumps(good).encode(),
                              protected=json.dumps({"alg": "dir", "enc": "A256GCM", "kid": "1"}))
    json_serialized.add_recipient(key)
    none_header = base64url_encode(json.dumps({"alg": "none", "enc": "A256GCM", "kid": "1"}))
    return {
        "other server's key": raw_jwe(foreign, good, {"alg": "dir", "enc": "A256GCM", "kid": "1"}),
        "unknown kid": raw_jwe(key, good, {"alg": "dir", "enc": "A256GCM", "kid": "99"}),
        "no kid": raw_jwe(key, good, {"alg": "dir", "enc": "A256GCM"}),
        "alg none": f"{none_header}..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
        "RSA-OAEP": raw_jwe(rsa, good, {"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "1"}),
        "A256KW": raw_jwe(key, good, {"alg": "A256KW", "enc": "A256GCM", "kid": "1"}),
        "ECDH-ES": raw_jwe(ec, good, {"alg": "ECDH-ES", "enc": "A256GCM", "kid": "1"}),
        "PBES2 with a huge p2c": _pbes2_bomb(),
        "zip header": raw_jwe(key, good, {"alg": "dir", "enc": "A256GCM", "kid": "1", "zip": "DEF"}),
        "extra header field": raw_jwe(key, good, {"alg": "dir", "enc": "A256GCM", "kid": "1", "cty": "x"}),
        "A128GCM": raw_jwe(jwk.JWK.generate(kty="oct", size=128, kid="1"), good,
                           {"alg": "dir", "enc": "A128GCM", "kid": "1"}),
        "JSON serialization": json_serialized.serialize(),
        "signed JWS made with our key": signed.serialize(compact=True),
        "garbage": "not a token at all",
        "empty string": "",
        "whitespace": "   ",
        "1 MB of dots": "." * 1_000_000,
        "non-ASCII": "ëyJ" + "é" * 300,
        "too long": "A" * 5000,
        "not a string": 12345,
        "a list": ["a", "b"],
        "None": None,
        "five empty parts": "....",
    }


def _pbes2_bomb() -> str:
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A256GCM", "kid": "1", "p2c": 2_000_000_000,
              "p2s": base64url_encode(os.urandom(16))}
    return f"{base64url_encode(json.dumps(header))}.{'A' * 54}.{'A' * 16}.AAAA.{'A' * 22}"


@pytest.mark.parametrize("case", [
    "other server's key", "unknown kid", "no kid", "alg none", "RSA-OAEP", "A256KW", "ECDH-ES",
    "PBES2 with a huge p2c", "zip header", "extra header field", "A128GCM", "JSON serialization",
    "signed JWS made with our key", "garbage", "empty string", "whitespace", "1 MB of dots", "non-ASCII",
    "too long", "not a string", "a list", "None", "five empty parts",
])
def test_hostile_tokens_are_one_opaque_error(keyring, case):
    with pytest.raises(InvalidToken):
        tokens.verify(_hostile(keyring)[case], keyring)


BASE = {"v": 1, "n": "a.txt", "s": "A" * 43, "k": base64url_encode(b"k" * 32), "iat": 1}


@pytest.mark.parametrize("change", [
    {"v": 2}, {"v": True}, {"v": "1"}, {"n": ""}, {"n": 5}, {"n": "x" * 1025}, {"s": "../../etc/passwd"},
    {"s": "A" * 42}, {"s": "A" * 42 + "/"}, {"s": None}, {"k": base64url_encode(b"k" * 16)}, {"k": "!" * 43},
    {"k": 7}, {"iat": "1"}, {"iat": 1.5}, {"exp": "never"}, {"exp": True},
], ids=repr)
def test_claims_are_validated_after_decryption(keyring, change):
    body = {**BASE, **change}
    token = raw_jwe(our_key(keyring), body, {"alg": "dir", "enc": "A256GCM", "kid": "1"})
    with pytest.raises(InvalidToken):
        tokens.verify(token, keyring)


@pytest.mark.parametrize("missing", ["v", "n", "s", "k", "iat"])
def test_a_missing_claim_is_an_invalid_token(keyring, missing):
    body = {k: v for k, v in BASE.items() if k != missing}
    token = raw_jwe(our_key(keyring), body, {"alg": "dir", "enc": "A256GCM", "kid": "1"})
    with pytest.raises(InvalidToken):
        tokens.verify(token, keyring)


def test_a_payload_that_is_not_json_is_an_invalid_token(keyring):
    token = raw_jwe(our_key(keyring), b"\xff\xfe not json", {"alg": "dir", "enc": "A256GCM", "kid": "1"})
    with pytest.raises(InvalidToken):
        tokens.verify(token, keyring)


def test_each_jwe_still_gets_its_own_header_registry_with_the_same_entries():
    from jwcrypto.jwe import JWEHeaderRegistry  # the registry jwcrypto copies into every JWE object
    first, second = jwe.JWE(), jwe.JWE()
    assert first.header_registry._registry is not second.header_registry._registry
    assert first.header_registry._registry is not JWEHeaderRegistry
    assert first.header_registry._registry == JWEHeaderRegistry
    assert all(first.header_registry[k] is JWEHeaderRegistry[k] for k in JWEHeaderRegistry)  # shared, not copied
    first.header_registry["x-ours"] = first.header_registry["kid"]
    assert "x-ours" not in second.header_registry and "x-ours" not in JWEHeaderRegistry


def test_bundle_and_bundle_owner_tokens_round_trip_and_stay_short(keyring):
    now = int(time.time())
    bundle = tokens.BundleClaims("B" * 43, os.urandom(48), now, now + 30 * 86400, os.urandom(16))
    owner = tokens.OwnerClaims("B" * 43, now, now + 30 * 86400, bundle=True)
    for c in (bundle, owner, tokens.OwnerClaims("B" * 43, now, None)):
        token = tokens.issue(c, keyring)
        assert tokens.verify(token, keyring) == c and len(token) <= 360


@pytest.mark.parametrize("body", [
    {"v": 1, "t": "o", "s": "A" * 43, "iat": 1, "b": True},
    {"v": 1, "t": "o", "s": "A" * 43, "iat": 1, "b": 2},
    {"v": 1, "t": "o", "s": "A" * 43, "iat": 1, "k": base64url_encode(b"k" * 32)},
    {"v": 1, "t": "b", "s": "A" * 43, "iat": 1},
    {"v": 1, "t": "b", "s": "A" * 43, "iat": 1, "k": base64url_encode(b"k" * 32), "n": "a.txt"},
    {"v": 1, "t": "x", "s": "A" * 43, "iat": 1, "k": base64url_encode(b"k" * 32), "n": "a.txt"},
], ids=repr)
def test_bundle_and_owner_claims_are_validated(keyring, body):
    token = raw_jwe(our_key(keyring), body, {"alg": "dir", "enc": "A256GCM", "kid": "1"})
    with pytest.raises(InvalidToken):
        tokens.verify(token, keyring)
