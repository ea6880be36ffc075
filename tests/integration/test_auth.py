"""Source authentication over a real relay: every scheme, with rotated secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import orjson

from relay.config import jwt
from tests.conftest import dial_body
from tests.support import scrape
from tests.support.credentials import GOOD, OTHER, SCHEMES, WRONG, hmac_req
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

HTTP_SOURCES = f"""
sources:
  header: {{auth: {{type: header, secrets: [{GOOD}, {OTHER}]}}}}
  bearer: {{auth: {{type: bearer, secrets: [{GOOD}, {OTHER}]}}}}
  query: {{auth: {{type: query, param: key, secrets: [{GOOD}, {OTHER}]}}}}
  body-token: {{auth: {{type: body-token, secrets: [{GOOD}, {OTHER}]}}}}
  basic: {{auth: {{type: basic, username: genesys, passwords: [{GOOD}, {OTHER}]}}}}
  ringcentral: {{auth: {{type: verification-token, secrets: [{GOOD}, {OTHER}]}}}}
  hmac:
    auth: {{type: hmac, header: X-Sig, prefix: "sha256=", timestamp_header: X-Ts,
           secrets: [{GOOD}, {OTHER}]}}
  jwt: {{auth: {{type: jwt, secrets: [{GOOD}, {OTHER}]}}}}
"""


def test_each_scheme_over_http(start_relay: Callable[..., RelayThread]) -> None:
    """Over a real server each scheme takes both rotated secrets and answers 401, counted, else."""
    relay = start_relay(HTTP_SOURCES)
    for scheme, (_, make) in SCHEMES.items():
        if scheme == "firehose":  # a batch protocol of its own: tests/integration/test_firehose.py
            continue
        for i, (secret, status) in enumerate([(GOOD, 202), (OTHER, 202), (WRONG, 401)]):
            body = orjson.dumps(dial_body(dial_id=f"{scheme}-{i}"))
            req = make(secret)
            if scheme == "hmac":  # signed now, by the relay's clock, over this body
                req = hmac_req(secret, ts=int(time.time()), body=body)
            if scheme == "body-token":  # the token is a field of the body (Aircall)
                body = orjson.dumps({**dial_body(dial_id=f"{scheme}-{i}"), "token": secret})
            if scheme == "jwt":  # the body itself is the signed token
                body = jwt.encode(orjson.loads(body), secret.encode())
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


SIGNED_SOURCES = """
sources:
  signed: {auth: {type: hmac, header: X-Sig, prefix: "sha256=", secret: signed-hook-secret}}
  stamped:
    auth: {type: hmac, header: X-Sig, prefix: "sha256=", timestamp_header: X-Ts,
           secret: signed-hook-secret}
  webhooks: {auth: {type: hmac, preset: standard-webhooks, secret: "whsec_c2lnbmVkLWtleQ=="}}
"""
FORGED_QUERY = {**dial_body(dial_id="forged-1"), "agent_name": "Mallory"}


def _signed(source: str, body: bytes) -> dict[str, str]:
    """The headers a sender signs ``body`` with for ``source`` (now, by the relay's clock)."""
    ts = int(time.time())
    if source == "webhooks":
        key = base64.b64decode("c2lnbmVkLWtleQ==")
        mac = hmac.new(key, f"msg-1.{ts}.".encode() + body, hashlib.sha256).digest()
        signature = "v1," + base64.b64encode(mac).decode()
        return {"webhook-id": "msg-1", "webhook-timestamp": str(ts), "webhook-signature": signature}
    signed = body if source == "signed" else f"{ts}.".encode() + body
    digest = hmac.new(b"signed-hook-secret", signed, hashlib.sha256).hexdigest()
    headers = {"X-Sig": "sha256=" + digest}
    if source == "stamped":
        headers["X-Ts"] = str(ts)
    return headers


def test_a_signed_request_replayed_with_a_query_is_no_new_dial(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """The HMAC schemes sign the body alone, so the query never feeds the mapping: a captured
    request replayed with dial fields in its query is the same dial (200 duplicate), and one
    signature over an empty body authorises no dial sent in the query."""
    relay = start_relay(SIGNED_SOURCES)
    kept = {}
    for source in ("signed", "stamped", "webhooks"):
        # no dial_id and no agent: what a query could add
        fields = {k: v for k, v in dial_body(campaign_id=source).items() if k != "agent_name"}
        body = orjson.dumps({k: v for k, v in fields.items() if k != "dial_id"})
        headers = {**_signed(source, body), "Content-Type": "application/json"}
        first = httpx.post(f"{relay.url}/hooks/{source}", content=body, headers=headers)
        assert first.status_code == 202, (source, first.text)
        kept[source] = first.json()["dial_id"]
        replayed = httpx.post(
            f"{relay.url}/hooks/{source}", content=body, headers=headers, params=FORGED_QUERY
        )
        assert replayed.status_code == 200, (source, replayed.text)
        assert replayed.json() == {"status": "duplicate", "dial_id": kept[source]}
        empty = _signed(source, b"")
        for method in ("GET", "POST"):
            forged = httpx.request(
                method, f"{relay.url}/hooks/{source}", headers=empty, params=FORGED_QUERY
            )
            assert forged.status_code == 422, (source, method, forged.text)
            stored = relay.call(relay.runtime.queue.get_rejected(forged.json()["rejected_id"]))
            assert stored.query == {}
    delivered = [r.json() for r in fake.wait_accepted(3)]
    assert sorted(d["dial_id"] for d in delivered) == sorted(kept.values())
    assert [d["agent_name"] for d in delivered] == ["", "", ""]
