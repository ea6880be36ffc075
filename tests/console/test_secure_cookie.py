"""The session cookie is Secure whenever the browser came over HTTPS, also through a proxy."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.console.conftest import ADMIN_TOKEN
from tests.support.relay_server import RelayThread

HTTPS = {"X-Forwarded-Proto": "https"}


def _cookie(relay: RelayThread, headers: dict[str, str]) -> str:
    reply = httpx.post(relay.url + "/console/login", data={"token": ADMIN_TOKEN}, headers=headers)
    assert reply.status_code == 303
    return reply.headers["set-cookie"]


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay(trusted_proxies="127.0.0.1/32")
    assert "Secure" in _cookie(relay, HTTPS)
    assert "Secure" in _cookie(relay, {"X-Forwarded-Proto": "HTTPS, http"})
    assert "Secure" not in _cookie(relay, {})  # the proxy says nothing: plain HTTP
    assert "Secure" not in _cookie(relay, {"X-Forwarded-Proto": "http"})


def test_an_untrusted_peer_cannot_claim_https(console_relay: Callable[..., RelayThread]) -> None:
    relay = console_relay(trusted_proxies="10.0.0.0/8")
    assert "Secure" not in _cookie(relay, HTTPS)
