"""Hostile request shapes around the token: nesting, raw header bytes and secrets in URLs.

Every answer is the JSON error shape with the one expected code, and the test
root is unchanged: JSON nested to any depth (arrays, objects, mixed, under
"token", "passphrase" or as the whole body) is 400; X-File-Name or X-Passphrase
holding any raw non-ASCII text (as WSGI shows UTF-8 bytes: Latin-1) is 400
naming the header (percent-encoded names round-trip in test_names_fuzz.py); a ``token`` or
``passphrase`` query parameter in any letter case, on any path, is 400 before
routing.
"""

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .conftest import FUZZ, TreeSnapshot
from .test_tokens_fuzz import outcome

OPENERS = {"[": "]", "{": "}"}


@pytest.fixture(scope="module")
def snap(fuzz_client, fuzz_root):
    """Snapshots of the root, taken once storage has a file and this thread its index connection."""
    token = fuzz_client.post("/api/files", data=b"warm", headers={
        "Content-Type": "application/octet-stream", "X-File-Name": "warm"}).get_json()["token"]
    assert fuzz_client.post("/api/files/info", json={"token": token}).status_code == 200
    return lambda: TreeSnapshot(fuzz_root)


@st.composite
def nested(draw) -> str:
    """A value nested ``depth`` times: arrays and objects in any mix."""
    depth = draw(st.integers(1, 10_000))  # an object level is 6 bytes: the deepest stay under the 64 KiB limit
    kinds = draw(st.lists(st.sampled_from("[{"), min_size=1, max_size=8))
    opened = [kinds[i % len(kinds)] for i in range(depth)]
    head = "".join('{"a":' if k == "{" else "[" for k in opened)
    tail = "".join(OPENERS[k] for k in reversed(opened))
    return head + draw(st.sampled_from(["1", '"x"', "null", ""])) + tail


@FUZZ
@given(value=nested(), where=st.sampled_from(["token", "passphrase", "body"]),
       path=st.sampled_from(["/api/files/info", "/api/files/retrieve", "/api/files/delete"]))
def test_json_nested_to_any_depth_is_a_400(fuzz_client, snap, value, where, path):
    body = value if where == "body" else json.dumps({"token": "t"})[:-1] + f', "{where}": {value}}}'
    if where == "token":
        body = '{"token": ' + value + "}"
    before = snap()
    response = fuzz_client.post(path, data=body, content_type="application/json")
    assert outcome(response) in {(400, "bad_request"), (400, "invalid_token")}
    assert not before.changes()


non_ascii_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                         max_size=60).filter(lambda t: not t.isascii())


@FUZZ
@given(text=non_ascii_text, header=st.sampled_from(["X-File-Name", "X-Passphrase"]))
def test_raw_non_ascii_headers_are_refused(fuzz_client, snap, text, header):
    raw = text.encode().decode("latin-1")  # what a server hands the app for raw UTF-8 header bytes
    before = snap()
    response = fuzz_client.post("/api/files", data=b"x", headers={
        "Content-Type": "application/octet-stream", "X-File-Name": "a.txt", header: raw})
    assert outcome(response) == (400, "bad_request")
    assert header in response.get_json()["error"]["message"]
    assert not before.changes()


@FUZZ
@given(key=st.sampled_from(["token", "passphrase"]).flatmap(
           lambda k: st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in k]).map("".join)),
       path=st.sampled_from(["/api/files/info", "/api/files", "/api/health", "/api//files/retrieve", "/x"]),
       value=st.text(max_size=40), method=st.sampled_from(["GET", "POST"]))
def test_a_secret_in_the_query_is_refused_on_every_path(fuzz_client, snap, key, path, value, method):
    before = snap()
    response = fuzz_client.open(f"{path}?{quote(key)}={quote(value)}", method=method, json={"token": "t"})
    assert outcome(response) == (400, "bad_request")
    assert "Location" not in response.headers
    assert not before.changes()
