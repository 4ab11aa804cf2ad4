"""REAL_IP_FROM: behind a TLS proxy, nginx takes the client from that proxy's X-Forwarded-For,
and from no one else's.

The test client plays the proxy: its connections reach nginx from the address nginx logs
for it (the engine's gateway), and that address is what REAL_IP_FROM names.

The backend believes X-Forwarded-For from the `nginx` service's address, looked up by name. Right
after nginx is recreated, podman's DNS may fail to answer for that name for up to about a minute, and
meanwhile the backend takes nginx itself for the client; so each check asks until the backend's
line names the client, for at most SETTLE seconds.
"""

import time

import pytest
import requests

from compose import Compose
from conftest import SETTINGS

CLIENT = "198.51.100.23"  # a documentation address: only ever written in a header here
SETTLE = 120  # seconds
BOGUS = b'{"token": "not-a-token"}'


def last_client(stack, service):
    """The client address of the newest `POST /api/files/info` line in the service's log."""
    name = stack.containers(service)[0]
    lines = [line for line in stack.logs(name).splitlines() if "POST /api/files/info" in line]
    return lines[-1].split()[0]


def ask(site):
    response = requests.post(f"{site}/api/files/info", data=BOGUS, timeout=30,
                             headers={"Content-Type": "application/json", "X-Forwarded-For": CLIENT})
    assert response.status_code == 400


def backend_names(stack, site, client: str) -> bool:
    """Ask until the backend's newest line names ``client``; False if it never does within SETTLE seconds."""
    deadline = time.monotonic() + SETTLE
    while True:
        ask(site)
        if last_client(stack, "backend") == client:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1)


@pytest.fixture(scope="module")
def peer(stack, site):
    """Without REAL_IP_FROM (the default) a client's X-Forwarded-For changes nothing."""
    ask(site)
    address = last_client(stack, "nginx")
    assert address != CLIENT and backend_names(stack, site, address)
    return address


def test_a_client_cannot_pick_its_address(peer):
    assert peer != CLIENT


def test_the_proxy_named_in_real_ip_from_names_the_client(stack, peer):
    behind_proxy = Compose([SETTINGS], env={"REAL_IP_FROM": peer})
    try:
        behind_proxy.up()
        site = behind_proxy.url()
        ask(site)
        assert last_client(behind_proxy, "nginx") == CLIENT
        assert backend_names(behind_proxy, site, CLIENT)
    finally:
        stack.up()  # without REAL_IP_FROM again
    ask(stack.url())
    assert last_client(stack, "nginx") == peer
