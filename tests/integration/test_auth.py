"""Source authentication over a real relay: every scheme, with rotated secrets."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import orjson

from tests.conftest import dial_body
from tests.support import scrape
from tests.support.credentials import GOOD, OTHER, SCHEMES, WRONG, hmac_req
from tests.support.relay_server import RelayThread

HTTP_SOURCES = f"""
sources:
  header: {{auth: {{type: header, secrets: [{GOOD}, {OTHER}]}}}}
  bearer: {{auth: {{type: bearer, secrets: [{GOOD}, {OTHER}]}}}}
  query: {{auth: {{type: query, param: key, secrets: [{GOOD}, {OTHER}]}}}}
  basic: {{auth: {{type: basic, username: genesys, passwords: [{GOOD}, {OTHER}]}}}}
  hmac:
    auth: {{type: hmac, header: X-Sig, prefix: "sha256=", timestamp_header: X-Ts,
           secrets: [{GOOD}, {OTHER}]}}
"""


def test_each_scheme_over_http(start_relay: Callable[..., RelayThread]) -> None:
    """Over a real server each scheme takes both rotated secrets and answers 401, counted, else."""
    relay = start_relay(HTTP_SOURCES)
    for scheme, (_, make) in SCHEMES.items():
        for i, (secret, status) in enumerate([(GOOD, 202), (OTHER, 202), (WRONG, 401)]):
            body = orjson.dumps(dial_body(dial_id=f"{scheme}-{i}"))
            req = make(secret)
            if scheme == "hmac":  # signed now, by the relay's clock, over this body
                req = hmac_req(secret, ts=int(time.time()), body=body)
            r = httpx.post(
                f"{relay.url}/hooks/{scheme}",
                content=body,
                headers={**req.headers, "Content-Type": "application/json"},
                params=req.query,
            )
            assert r.status_code == status, (scheme, secret, r.text)
        assert r.json() == {"status": "error", "error": "unauthorized"}
        assert WRONG not in r.text
        failures = scrape.value(relay.url, "relay_auth_failures_total", source=scheme)
        assert failures == 1, scheme
