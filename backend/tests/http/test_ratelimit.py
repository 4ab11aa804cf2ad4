"""Per-client-IP rate limits and the proxy rule that decides who the client is.

A burst over a limit gets ``429 rate_limited`` in the JSON shape with a
Retry-After; the limits are counted per address; X-Forwarded-For is ignored
with TRUSTED_PROXIES=0 (a client cannot dodge its limit by inventing addresses)
and honoured with 1 from TRUSTED_PROXY_ADDRS alone (behind our nginx, every
client has its own budget; a client reaching the backend directly has one).
"""

import pytest

from anon_hosting import config, create_app
from anon_hosting.errors import ConfigError
from anon_hosting.http.ratelimit import RateLimiter

RAW = {"Content-Type": "application/octet-stream", "X-File-Name": "r.txt"}
PROXY = "10.0.0.2"  # the address our nginx would connect from


def assert_rate_limited(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "rate_limited" and body["error"]["message"].endswith(".")
    assert 0 < int(response.headers["Retry-After"]) <= 601


def make_client(app_config, **limits):
    return create_app({**app_config, "RATE_LIMIT_UPLOADS": "0", "RATE_LIMIT_TOKENS": "0", **limits}).test_client()


def from_addr(addr: str, xff: str | None = None) -> dict:
    kwargs = {"environ_base": {"REMOTE_ADDR": addr}}
    if xff is not None:
        kwargs["headers"] = {"X-Forwarded-For": xff}
    return kwargs


def upload(client, addr="198.51.100.1", xff=None):
    kwargs = from_addr(addr, xff)
    return client.post("/api/files", data=b"x", headers={**RAW, **kwargs.pop("headers", {})}, **kwargs)


def test_an_upload_burst_is_rate_limited_per_address(app_config):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="5/minute")
    assert [upload(client).status_code for _ in range(5)] == [201] * 5
    assert_rate_limited(upload(client))
    assert upload(client, "198.51.100.2").status_code == 201


def test_a_tus_creation_counts_as_an_upload_and_its_head_and_patch_never_do(app_config):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="3/minute")
    secret = "s" * 43
    tus = {"Tus-Resumable": "1.0.0", "Upload-Secret": secret}
    created = client.post("/api/uploads", headers={**tus, "Upload-Length": "5"}, **from_addr("198.51.100.1"))
    assert created.status_code == 201
    assert [upload(client).status_code for _ in range(2)] == [201] * 2  # one allowance for both kinds
    assert_rate_limited(client.post("/api/uploads", headers={**tus, "Upload-Length": "5"},
                                    **from_addr("198.51.100.1")))
    location = created.headers["Location"]
    for _ in range(5):
        assert client.head(location, headers=tus, **from_addr("198.51.100.1")).status_code == 200
    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert client.patch(location, data=b"12345", headers=patch, **from_addr("198.51.100.1")).status_code == 200


def creation(client, member: bool, addr="198.51.100.1", path="/api/uploads"):
    meta = "filename eC50eHQ=" + (",bundle " if member else "")
    headers = {"Tus-Resumable": "1.0.0", "Upload-Secret": "s" * 43, "Upload-Length": "5", "Upload-Metadata": meta}
    return client.post(path, headers=headers, **from_addr(addr))


def test_bundle_members_draw_on_their_own_allowance_at_the_default_limits(app_config):
    client = create_app(app_config).test_client()  # RATE_LIMIT_UPLOADS 30/minute, RATE_LIMIT_BUNDLE_FILES 2000/minute
    assert [creation(client, member=True).status_code for _ in range(50)] == [201] * 50
    plain = [creation(client, member=False).status_code for _ in range(31)]
    assert plain == [201] * 30 + [429], plain
    assert_rate_limited(creation(client, member=False))
    assert creation(client, member=True).status_code == 201
    # The member key buys nothing elsewhere: POST /api/files and the join stay on the upload allowance.
    raw = client.post("/api/files", data=b"x", headers={**RAW, "Upload-Metadata": "bundle "},
                      **from_addr("198.51.100.1"))
    assert_rate_limited(raw)
    assert_rate_limited(client.post("/api/bundles", json={"uploads": []}, headers={"Upload-Metadata": "bundle "},
                                    **from_addr("198.51.100.1")))
    assert creation(client, member=False, addr="198.51.100.2").status_code == 201


def test_bundle_member_creations_have_a_limit_of_their_own(app_config):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="2/minute", RATE_LIMIT_BUNDLE_FILES="3/minute")
    assert [creation(client, member=True).status_code for _ in range(3)] == [201] * 3
    assert_rate_limited(creation(client, member=True))
    assert [creation(client, member=False).status_code for _ in range(2)] == [201] * 2
    assert_rate_limited(creation(client, member=False))


def test_a_token_burst_is_rate_limited_on_info_retrieve_and_delete(app_config):
    client = make_client(app_config, RATE_LIMIT_TOKENS="6/minute")
    token = upload(client).get_json()["token"]
    answers = [client.post(f"/api/files/{path}", json={"token": token}, **from_addr("198.51.100.7")).status_code
               for path in ("info", "retrieve", "delete") * 2]
    assert answers == [200, 200, 403] * 2
    for path in ("info", "retrieve", "delete"):
        assert_rate_limited(client.post(f"/api/files/{path}", json={"token": token}, **from_addr("198.51.100.7")))
    assert client.post("/api/files/info", json={"token": token}, **from_addr("198.51.100.8")).status_code == 200


def test_health_and_config_are_not_limited(app_config):
    client = make_client(app_config, RATE_LIMIT_TOKENS="1/minute", RATE_LIMIT_UPLOADS="1/minute")
    for _ in range(20):
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/config").status_code == 200


def test_wrong_passphrases_are_limited_per_address_across_files(app_config):
    client = make_client(app_config, RATE_LIMIT_PASSPHRASES="3/10minutes")
    tokens = [client.post("/api/files", data=b"s", headers={**RAW, "X-Passphrase": "right"}).get_json()["token"]
              for _ in range(4)]
    for token in tokens[:3]:  # one wrong guess per file: the per-file limit never triggers
        answer = client.post("/api/files/info", json={"token": token, "passphrase": "guess"}, **from_addr("192.0.2.5"))
        assert answer.get_json()["error"]["code"] == "wrong_passphrase"
    assert_rate_limited(client.post("/api/files/info", json={"token": tokens[3], "passphrase": "right"},
                                    **from_addr("192.0.2.5")))
    assert_rate_limited(client.post("/api/files/retrieve", json={"token": tokens[3], "passphrase": "right"},
                                    **from_addr("192.0.2.5")))
    elsewhere = client.post("/api/files/info", json={"token": tokens[3], "passphrase": "right"},
                            **from_addr("192.0.2.6"))
    assert elsewhere.status_code == 200
    plain = client.post("/api/files", data=b"p", headers=RAW).get_json()["token"]
    assert client.post("/api/files/info", json={"token": plain}, **from_addr("192.0.2.5")).status_code == 200


def test_x_forwarded_for_is_ignored_without_trusted_proxies(app_config):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="3/minute")
    answers = [upload(client, PROXY, xff=f"203.0.113.{n}").status_code for n in range(4)]
    assert answers == [201, 201, 201, 429], "invented X-Forwarded-For addresses must not buy new budgets"


def test_x_forwarded_for_from_the_trusted_proxy_is_honoured(app_config):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="3/minute", TRUSTED_PROXIES="1", TRUSTED_PROXY_ADDRS=PROXY)
    assert [upload(client, PROXY, xff=f"203.0.113.{n}").status_code for n in range(6)] == [201] * 6
    assert [upload(client, PROXY, xff="203.0.113.50").status_code for _ in range(4)] == [201, 201, 201, 429]
    # A client's own X-Forwarded-For comes first; nginx appends the real address, which is the one used.
    spoofed = [upload(client, PROXY, xff=f"198.18.0.{n}, 203.0.113.77").status_code for n in range(4)]
    assert spoofed == [201, 201, 201, 429]


@pytest.mark.parametrize("peer", ["10.0.0.3", "127.0.0.1"])
def test_x_forwarded_for_from_any_other_peer_is_ignored(app_config, peer):
    client = make_client(app_config, RATE_LIMIT_UPLOADS="3/minute", TRUSTED_PROXIES="1",
                         TRUSTED_PROXY_ADDRS="10.0.0.0/31,nginx.invalid")
    answers = [upload(client, peer, xff=f"203.0.113.{n}").status_code for n in range(4)]
    assert answers == [201, 201, 201, 429], "a peer that is not the proxy must not pick its address"
    # the proxy's network, given as a CIDR, is still believed
    assert [upload(client, "10.0.0.1", xff=f"203.0.113.{n}").status_code for n in range(4)] == [201] * 4


class Resolver:
    """getaddrinfo for a few names; a name can be made to hang until released."""

    def __init__(self, **answers):
        self.answers, self.calls, self.gates = answers, [], {}

    def __call__(self, name, port, proto=0):
        self.calls.append(name)
        answer = self.answers.get(name)  # what the DNS knew when the lookup began
        if name in self.gates:
            self.gates.pop(name).wait()
        if answer is None:
            raise OSError("no such host")
        return [(2, 1, 6, "", (addr, 0)) for addr in answer]


def test_a_proxy_named_by_host_is_believed_at_its_current_address():
    from anon_hosting.http.proxies import ProxyAddresses
    resolver = Resolver(nginx=["172.18.0.5"])
    trusted = ProxyAddresses(("nginx", "missing"), resolve=resolver)
    assert trusted.contains("172.18.0.5") and not trusted.contains("172.18.0.6")
    assert resolver.calls == ["nginx", "missing"] * 2, "a known address needs no lookup; an unknown one does"
    resolver.answers["nginx"] = ["172.18.0.6"]  # the proxy's container was recreated
    assert trusted.contains("172.18.0.6") and not trusted.contains("172.18.0.5")
    assert not trusted.contains("not an address")


def test_a_lookup_begun_before_a_peer_arrived_does_not_decide_for_it():
    """The new proxy's first request gets a lookup of its own, not the stale one still hanging."""
    import threading

    from anon_hosting.http.proxies import ProxyAddresses
    resolver = Resolver(nginx=None)  # the proxy's container is being recreated
    resolver.gates["nginx"] = stale = threading.Event()
    trusted = ProxyAddresses(("nginx",), resolve=resolver)
    answers = {}
    early = threading.Thread(target=lambda: answers.update(early=trusted.contains("172.18.0.6")))
    early.start()
    while resolver.calls != ["nginx"]:  # the early peer's lookup has begun, and hangs
        threading.Event().wait(0.01)
    resolver.answers["nginx"] = ["172.18.0.6"]  # the proxy is back
    assert trusted.contains("172.18.0.6"), "a hanging lookup must not hold back a fresh one"
    early.join()
    assert answers == {"early": True}  # the fresh lookup began after the early peer arrived, too
    stale.set()  # the stale lookup ends with no answer, which must not replace the fresh one
    while trusted._in_flight:  # noqa: SLF001 - until the stale lookup has ended
        threading.Event().wait(0.01)
    assert trusted.contains("172.18.0.6") and resolver.calls == ["nginx", "nginx"]


def test_a_hanging_dns_holds_a_request_for_wait_seconds_at_most(monkeypatch):
    import threading

    from anon_hosting.http import proxies
    monkeypatch.setattr(proxies, "WAIT", 0.2)
    resolver = Resolver(nginx=["172.18.0.5"])
    resolver.gates["nginx"] = release = threading.Event()
    trusted = proxies.ProxyAddresses(("nginx",), resolve=resolver)
    assert not trusted.contains("172.18.0.5"), "no answer within WAIT: not believed"
    release.set()
    assert trusted.contains("172.18.0.5")


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "bad host!", "-nginx"])
def test_bad_trusted_proxy_addrs_are_refused(app_config, raw):
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_ADDRS"):
        config.load({**app_config, "TRUSTED_PROXY_ADDRS": raw})


@pytest.mark.parametrize("raw,parsed", [
    ("30/minute", (30, 60)), ("10/10minutes", (10, 600)), ("5 / hour", (5, 3600)), ("1/second", (1, 1)),
    ("100/day", (100, 86400)), ("0", None), ("", None),
])
def test_rates_parse(app_config, raw, parsed):
    assert config.load({**app_config, "RATE_LIMIT_UPLOADS": raw}).rate_limit_uploads == parsed


@pytest.mark.parametrize("raw", ["30", "x/minute", "30/fortnight", "0/minute", "5/0minutes", "٣/minute", "-1/hour"])
def test_bad_rates_are_refused_at_start_up(app_config, raw):
    with pytest.raises(ConfigError, match="RATE_LIMIT_TOKENS"):
        config.load({**app_config, "RATE_LIMIT_TOKENS": raw})
    with pytest.raises(ConfigError, match="RATE_LIMIT_BUNDLE_FILES"):
        config.load({**app_config, "RATE_LIMIT_BUNDLE_FILES": raw})


@pytest.mark.parametrize("raw", ["-1", "x", "6"])
def test_bad_trusted_proxies_are_refused(app_config, raw):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        config.load({**app_config, "TRUSTED_PROXIES": raw})


def test_defaults(app_config):
    site = config.load(app_config)
    assert (site.rate_limit_uploads, site.rate_limit_tokens) == ((30, 60), (120, 60))
    assert (site.rate_limit_passphrases, site.rate_limit_upload_password) == ((20, 600), (10, 600))
    assert site.trusted_proxies == 0 and site.trusted_proxy_addrs == ("127.0.0.1", "::1")
    assert site.rate_limit_passphrase_requests == (20, 60)
    assert site.rate_limit_bundle_files == (2000, 60)


def test_the_limiter_window_slides_and_memory_is_bounded():
    now = [0.0]
    limiter = RateLimiter(limit=2, window=10, max_keys=3, clock=lambda: now[0])
    assert limiter.acquire("a") and limiter.acquire("a") and not limiter.acquire("a")
    assert limiter.retry_after("a") == 11
    now[0] = 10.5
    assert limiter.acquire("a")
    for key in "bcde":
        limiter.hit(key)
    assert len(limiter._hits) == 3 and "a" not in limiter._hits
    assert RateLimiter.for_limit(1000, 60).max_keys == 1200  # a larger limit keeps fewer addresses
    assert RateLimiter.for_limit(30, 60).max_keys == 10_000
