"""Hostile tokens through the HTTP layer: only documented 4xx answers, nothing touched on disk.

Every example posts to /api/files/info, /retrieve and /delete and checks that
the answer is the one JSON error shape with a documented code (400
invalid_token or bad_request, 403 forbidden, 404 not_found, 410 expired, and
413 too_large for a body over the 64 KiB token limit), that no traceback is in
the body, and that no file under the test root (storage, private folder and a
sentinel folder beside them) changed. Where the right answer is known, it is
asserted exactly: mutated tokens and foreign headers are 400 invalid_token, and
random claims sealed under the app's real key get what an oracle written from
the claim rules in tokens.py's docstring says.
"""

import json
import re
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import base64url_decode, base64url_encode

from .conftest import FUZZ, TreeSnapshot

ENDPOINTS = ("/api/files/info", "/api/files/retrieve", "/api/files/delete")
DOCUMENTED = {(400, "invalid_token"), (400, "bad_request"), (403, "forbidden"), (404, "not_found"),
              (410, "expired"), (413, "too_large")}
GOOD_HEADER = {"alg": "dir", "enc": "A256GCM", "kid": "1"}
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
B64_LOOSE = re.compile(r"[A-Za-z0-9_+/-]*")  # the decoder also takes the standard alphabet's + and /
NOW = int(time.time())
MAX_TOKEN_LENGTH = 4096  # "larger than a few KiB" is refused before parsing (shared/SECURITY.md)


@pytest.fixture(scope="module")
def stored(fuzz_client):
    """Three real files: plain, passphrase-protected and burn-after-reading; their tokens."""
    answers = {}
    for label, headers in [("plain", {}), ("protected", {"X-Passphrase": "correct horse"}),
                           ("once", {})]:
        query = "?max_downloads=1" if label == "once" else ""
        response = fuzz_client.post(f"/api/files{query}", data=b"fuzz target " + label.encode(),
                                    headers={"Content-Type": "application/octet-stream", "X-File-Name": label,
                                             **headers})
        assert response.status_code == 201
        answers[label] = response.get_json()
    return answers


@pytest.fixture(scope="module")
def our_key(fuzz_app):
    kid, key = fuzz_app.extensions["anon_hosting"].keyring.active()
    assert kid == "1"
    return key


@pytest.fixture(scope="module")
def snapshot(fuzz_root, stored):
    return lambda: TreeSnapshot(fuzz_root)


def post(client, path, body=None, **kwargs):
    return client.post(path, json=body, **kwargs) if body is not None else client.post(path, **kwargs)


def outcome(response) -> tuple[int, str | None]:
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    if response.status_code >= 300:
        body = response.get_json(silent=True)
        assert isinstance(body, dict) and set(body) == {"error"}, text[:200]
        assert set(body["error"]) == {"code", "message"}
        return response.status_code, body["error"]["code"]
    return response.status_code, None


def send_everywhere(client, snap, token, extra=None) -> dict[str, tuple[int, str | None]]:
    """POST {"token": token} to every token endpoint; nothing on disk may change."""
    before = snap()
    results = {}
    for path in ENDPOINTS:
        result = outcome(client.post(path, json={"token": token, **(extra or {})}))
        assert result in DOCUMENTED, (path, result)
        results[path] = result
    assert before.changes() == {}
    return results


# -- any JSON value as the token -----------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@FUZZ
@given(value=json_values)
def test_any_json_value_as_token_is_invalid_token(fuzz_client, snapshot, value):
    expected = (400, "bad_request") if value is None else (400, "invalid_token")
    for result in send_everywhere(fuzz_client, snapshot, value).values():
        assert result == expected


@FUZZ
@given(value=st.text(alphabet=st.characters(codec="utf-8"), max_size=5000))
def test_any_text_as_token_is_invalid_token(fuzz_client, snapshot, value):
    for result in send_everywhere(fuzz_client, snapshot, value).values():
        assert result == (400, "invalid_token")


@FUZZ
@given(body=st.binary(max_size=2000),
       content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain",
                                     "multipart/form-data; boundary=x", "application/octet-stream", ""]))
def test_any_body_is_a_documented_error(fuzz_client, snapshot, body, content_type):
    before = snapshot()
    for path in ENDPOINTS:
        result = outcome(fuzz_client.post(path, data=body, content_type=content_type or None))
        assert result in DOCUMENTED | {(415, "unsupported_media_type")}, (path, result)
    assert before.changes() == {}


@pytest.mark.parametrize("token", [
    "." * 1_000_000, "A" * 60_000, "\x00" * 100, "é" * 5000, "😀" * 2000, "\u202e" + "A" * 100, " " * 4096,
    "eyJ" * 1500, "a.b.c.d.e", "....", "..." * 10_000, "\r\n" * 1000, "\ud800".encode("utf-8", "surrogatepass").hex(),
], ids=["1 MB of dots", "60k A", "NULs", "5000 é", "emoji", "RLO", "spaces", "eyJ x1500", "five tiny parts",
        "four dots", "30k dots", "CRLF", "surrogate hex"])
def test_huge_and_odd_tokens(fuzz_client, snapshot, token):
    for path, result in send_everywhere(fuzz_client, snapshot, token).items():
        body_size = len(json.dumps({"token": token}).encode())
        assert result == ((413, "too_large") if body_size > 64 * 1024 else (400, "invalid_token")), path


# -- mutations of real tokens ----------------------------------------------------------

def _equivalent(a: str, b: str) -> bool:
    """The same token: a token has one spelling (canonical base64url), so only surrounding blanks may differ."""
    return a.strip() == b.strip()


def _flip_slack(token: str, part: int, bits: int) -> str:
    """Set some of the unused low bits of a part's last character: the same bytes, spelled another way."""
    parts = token.split(".")
    unused = {2: 4, 3: 2}.get(len(parts[part]) % 4, 0)
    if unused:
        mask = bits % (1 << unused) or 1
        parts[part] = parts[part][:-1] + B64_ALPHABET[B64_ALPHABET.index(parts[part][-1]) ^ mask]
    return ".".join(parts)


def _flip_decoded(token: str, part: int, position: int, bit: int) -> str:
    parts = token.split(".")
    raw = bytearray(base64url_decode(parts[part])) or bytearray(b"\0")
    raw[position % len(raw)] ^= 1 << bit
    parts[part] = base64url_encode(bytes(raw))
    return ".".join(parts)


@st.composite
def mutations(draw, token: str):
    kind = draw(st.sampled_from(["flip decoded", "flip char", "replace char", "insert", "delete", "truncate",
                                 "swap parts", "duplicate part", "drop part", "append", "slack bits"]))
    parts = token.split(".")
    if kind == "slack bits":
        return _flip_slack(token, draw(st.sampled_from([0, 2, 3, 4])), draw(st.integers(1, 15)))
    if kind == "flip decoded":
        part = draw(st.sampled_from([i for i, p in enumerate(parts) if p] + [1]))
        return _flip_decoded(token, part, draw(st.integers(0, 10_000)), draw(st.integers(0, 7)))
    at = draw(st.integers(0, len(token) - 1))
    if kind == "flip char":
        return token[:at] + chr(ord(token[at]) ^ (1 << draw(st.integers(0, 6)))) + token[at + 1:]
    if kind == "replace char":
        return token[:at] + draw(st.characters()) + token[at + 1:]
    if kind == "insert":
        return token[:at] + draw(st.text(min_size=1, max_size=20)) + token[at:]
    if kind == "delete":
        return token[:at] + token[at + draw(st.integers(1, 40)):]
    if kind == "truncate":
        return token[:at]
    i, j = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    if kind == "swap parts":
        parts[i], parts[j] = parts[j], parts[i]
    elif kind == "duplicate part":
        parts.insert(i, parts[j])
    elif kind == "drop part":
        del parts[i]
    else:
        parts.append(draw(st.text(max_size=30)))
    return ".".join(parts)


@FUZZ
@given(data=st.data(), which=st.sampled_from([("plain", "token"), ("plain", "owner_token"),
                                               ("protected", "token"), ("once", "token"),
                                               ("once", "owner_token")]))
def test_mutated_real_tokens_are_invalid_tokens(fuzz_client, snapshot, stored, data, which):
    original = stored[which[0]][which[1]]
    mutated = data.draw(mutations(original))
    assume(not _equivalent(original, mutated))
    extra = {"passphrase": "correct horse"} if which[0] == "protected" else None
    for result in send_everywhere(fuzz_client, snapshot, mutated, extra).values():
        assert result == (400, "invalid_token")


def test_the_real_tokens_still_work_after_the_mutations(fuzz_client, stored):
    for label in ("plain", "once"):
        assert fuzz_client.post("/api/files/info", json={"token": stored[label]["token"]}).status_code == 200
    protected = {"token": stored["protected"]["token"], "passphrase": "correct horse"}
    assert fuzz_client.post("/api/files/info", json=protected).status_code == 200


# -- JOSE header variants ----------------------------------------------------------------

ALGS = ["dir", "none", "RSA-OAEP", "RSA-OAEP-256", "RSA1_5", "A256KW", "A128KW", "A256GCMKW", "ECDH-ES",
        "ECDH-ES+A256KW", "PBES2-HS256+A128KW", "PBES2-HS512+A256KW", "HS256", "RS256", "ES256", "DIR", "", None]
ENCS = ["A256GCM", "A128GCM", "A192GCM", "A128CBC-HS256", "A256CBC-HS512", "a256gcm", "", None]
KIDS = ["1", "2", "99", "0", "01", " 1", "1 ", "", "../1", "1" * 12, 1, None, True, ["1"], {"kid": "1"}]
EXTRAS = {"zip": st.sampled_from(["DEF", "", "none"]), "p2c": st.integers(0, 2**31),
          "p2s": st.text(max_size=30), "cty": st.sampled_from(["JWT", "x"]), "typ": st.just("JWT"),
          "crit": st.just(["exp"]), "jku": st.just("http://127.0.0.1:1/keys"), "jwk": st.just({"kty": "oct"}),
          "x5u": st.just("http://127.0.0.1:1/x5u"), "epk": st.just({"kty": "EC"}), "b64": st.booleans()}


@st.composite
def headers(draw):
    header = {}
    for name, choices in (("alg", ALGS), ("enc", ENCS), ("kid", KIDS)):
        value = draw(st.sampled_from(choices))
        if value is not None or draw(st.booleans()):
            header[name] = value
    for name in draw(st.lists(st.sampled_from(sorted(EXTRAS)), unique=True, max_size=3)):
        header[name] = draw(EXTRAS[name])
    return header


def _valid_claims(**change) -> dict:
    return {"v": 1, "n": "a.txt", "s": "Q" * 43, "k": base64url_encode(b"k" * 32), "iat": NOW, **change}


def _seal(key: jwk.JWK, header: dict, payload: bytes) -> str | None:
    """A real compact JWE under our key when jwcrypto can make one with this header, else None."""
    if str(header.get("alg", "")).startswith("PBES2"):
        return None  # a p2c bomb would cost the test itself the CPU; the forged variant covers it
    try:
        token = jwe.JWE(payload, protected=json.dumps(header))
        token.add_recipient(key)
        return token.serialize(compact=True)
    except Exception:  # noqa: BLE001 - jwcrypto refuses most of these headers; then we forge one below
        return None


@FUZZ
@given(header=headers(), rest=st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789-_",
                                                max_size=60), min_size=4, max_size=4))
def test_every_jose_header_variant(fuzz_client, snapshot, our_key, header, rest):
    sealed = _seal(our_key, header, json.dumps(_valid_claims()).encode())
    forged = ".".join([base64url_encode(json.dumps(header)), *rest])
    for token in filter(None, [sealed, forged]):
        results = send_everywhere(fuzz_client, snapshot, token)
        if token is sealed and header == GOOD_HEADER:  # the one header we issue: the claims decide
            assert results == {"/api/files/info": (404, "not_found"), "/api/files/retrieve": (404, "not_found"),
                               "/api/files/delete": (403, "forbidden")}
        else:
            assert set(results.values()) == {(400, "invalid_token")}, (header, results)


@pytest.mark.parametrize("form", ["JSON serialization", "JWS signed with our key", "JWE inside JWS"])
def test_other_serializations_with_our_key(fuzz_client, snapshot, our_key, form):
    payload = json.dumps(_valid_claims()).encode()
    if form == "JSON serialization":
        token = jwe.JWE(payload, protected=json.dumps(GOOD_HEADER))
        token.add_recipient(our_key)
        value = token.serialize()
    else:
        inner = payload if form == "JWS signed with our key" else _seal(our_key, GOOD_HEADER, payload).encode()
        signed = jws.JWS(inner)
        signed.add_signature(our_key, alg="HS256", protected=json.dumps({"alg": "HS256", "kid": "1"}))
        value = signed.serialize(compact=True)
    assert set(send_everywhere(fuzz_client, snapshot, value).values()) == {(400, "invalid_token")}


# -- random claims under our real key, judged by an oracle written from the rules ---------------

def _b64_field(draw, size: int):
    return draw(st.one_of(
        st.binary(min_size=size, max_size=size).map(base64url_encode),  # right
        st.integers(0, 64).flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(base64url_encode),
        st.text(max_size=70), st.integers(), st.none(), st.booleans()))


@st.composite
def claim_sets(draw):
    body = {}
    fields = {
        "v": st.sampled_from([1, 1, 1, 2, 0, True, "1", 1.0, None]),
        "n": st.one_of(st.text(max_size=40), st.text(min_size=1020, max_size=1030), st.integers(), st.none()),
        "s": st.one_of(st.text(alphabet="ABCXYZabc0123_-", min_size=43, max_size=43), st.text(max_size=50),
                       st.just("../../../../etc/passwd"), st.integers()),
        "iat": st.one_of(st.integers(-2**40, 2**40), st.just(NOW), st.booleans(), st.floats(allow_nan=False),
                         st.text(max_size=5)),
        "exp": st.one_of(st.none(), st.just(NOW - 10), st.just(NOW + 3600), st.integers(-2**40, 2**40),
                         st.booleans(), st.text(max_size=5), st.floats(allow_nan=False)),
        "t": st.sampled_from(["o", "o", "x", "", 1, None]),
        "extra": st.text(max_size=5),
    }
    for name, strategy in fields.items():
        if draw(st.integers(0, 9)) < (8 if name in ("v", "n", "s", "iat") else 3):
            body[name] = draw(strategy)
    if draw(st.integers(0, 9)) < 8:
        body["k"] = _b64_field(draw, draw(st.sampled_from([32, 48])))
    if draw(st.integers(0, 9)) < 3:
        body["p"] = _b64_field(draw, 16)
    return body


AMBIGUOUS = "ambiguous"


def _bytes_field(value, size: int):
    """True/False whether a claim decodes to exactly ``size`` bytes; AMBIGUOUS for odd characters."""
    if not isinstance(value, str):
        return False
    if not B64_LOOSE.fullmatch(value):
        return AMBIGUOUS
    return len(value) == -(-size * 4 // 3)


def _int(value) -> bool:
    return type(value) is int


def oracle(body: dict, token: str):
    """'owner', 'file', 'invalid' or AMBIGUOUS, from the rules in tokens.py's docstring."""
    if len(token) > MAX_TOKEN_LENGTH:
        return "invalid"
    if not (_int(body.get("v")) and body.get("v") == 1):
        return "invalid"
    s = body.get("s")
    if not (isinstance(s, str) and re.fullmatch(r"[A-Za-z0-9_-]{43}", s)) or not _int(body.get("iat")):
        return "invalid"
    if "exp" in body and body["exp"] is not None and not _int(body["exp"]):
        return "invalid"
    if "t" in body:
        return "owner" if body["t"] == "o" and set(body) <= {"v", "t", "s", "iat", "exp"} else "invalid"
    n = body.get("n")
    if not (isinstance(n, str) and 0 < len(n) <= 1024):
        return "invalid"
    checks = []
    if body.get("p") is not None:
        checks.append(_bytes_field(body["p"], 16))
    checks.append(_bytes_field(body.get("k"), 32 if body.get("p") is None else 48))
    if False in checks:
        return "invalid"
    return AMBIGUOUS if AMBIGUOUS in checks else "file"


def expected(kind: str, body: dict) -> set[tuple]:
    exp = body.get("exp")
    expired = _int(exp) and exp <= int(time.time())
    if kind == "owner":
        return {("info", 403, "forbidden"), ("retrieve", 403, "forbidden"), ("delete", 404, "not_found")}
    if kind == "file":
        gone = (410, "expired") if expired else (404, "not_found")
        return {("info", *gone), ("retrieve", *gone), ("delete", 403, "forbidden")}
    return {(name, 400, "invalid_token") for name in ("info", "retrieve", "delete")}


@FUZZ
@given(body=claim_sets())
def test_random_claims_sealed_under_our_real_key(fuzz_client, snapshot, our_key, body):
    token = _seal(our_key, GOOD_HEADER, json.dumps(body).encode())
    results = send_everywhere(fuzz_client, snapshot, token)
    got = {(path.rsplit("/", 1)[1], *result) for path, result in results.items()}
    kind = oracle(body, token)
    if kind == AMBIGUOUS:  # a non-alphabet character in a key field: the decoder may drop it
        assert got in (expected("file", body), expected("invalid", body)), (body, got)
    else:
        assert got == expected(kind, body), (body, got)


@FUZZ
@given(payload=st.binary(max_size=300))
def test_any_payload_bytes_sealed_under_our_real_key(fuzz_client, snapshot, our_key, payload):
    try:
        decoded = json.loads(payload)
    except ValueError:
        decoded = None
    assume(not isinstance(decoded, dict))
    token = _seal(our_key, GOOD_HEADER, payload)
    assert set(send_everywhere(fuzz_client, snapshot, token).values()) == {(400, "invalid_token")}
