"""The overview page: sources with their hook URLs, the queue, the destination."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.conftest import dial_body
from tests.console.conftest import sign_in
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread


def test_the_overview_lists_each_source_without_its_secret(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay(public_url="https://relay.example.com/")
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        page = client.get("/console/").text
    assert "https://relay.example.com/hooks/crm" in page
    assert "https://relay.example.com/hooks/other" in page
    assert "generic" in page
    assert "header" in page and "bearer" in page
    for secret in ("crm-hook-secret", "other-hook-secret", "oiq-other-key-0002"):
        assert secret not in page
    assert "Healthy" in page


def test_a_twilio_source_shows_the_url_it_is_signed_over(
    console_relay: Callable[..., RelayThread],
) -> None:
    """A ``twilio-signature`` source's ``public_url`` is the URL Twilio must call (it signs
    over it): the overview shows it rather than one built from RELAY_PUBLIC_URL."""
    sources = """
sources:
  sms:
    mapping: twilio
    auth: {type: twilio-signature, secret: twilio-auth-token-0001,
           public_url: "https://hooks.example.net/twilio/sms"}
  crm:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
"""
    relay = console_relay(sources, public_url="https://relay.example.com")
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        page = client.get("/console/").text
    assert "https://hooks.example.net/twilio/sms" in page
    assert "https://relay.example.com/hooks/sms" not in page
    assert "https://relay.example.com/hooks/crm" in page
    assert "twilio-signature" in page
    assert "twilio-auth-token-0001" not in page


def test_the_hook_url_defaults_to_the_address_opened(signed_in: httpx.Client) -> None:
    page = signed_in.get("/console/").text
    assert str(signed_in.base_url).rstrip("/") + "/hooks/crm" in page


def test_dead_letters_make_the_overview_say_so(
    console_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = console_relay()
    fake.fail_dial("ov-1", Reply(400, b'{"error": "bad phone"}'))
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        hook = client.post(
            "/hooks/crm",
            json=dial_body(dial_id="ov-1", prospect_phone="512-555-0187"),
            headers={"X-Relay-Token": "crm-hook-secret"},
        )
        assert hook.status_code == 202
        deadline = time.monotonic() + 10
        part = ""
        while time.monotonic() < deadline:
            part = client.get("/console/overview").text
            if "dead-letter store" in part:
                break
            time.sleep(0.05)
    assert "1 dial(s) in the dead-letter store" in part
    assert "Needs attention" in part
    assert "<html" not in part  # the refreshing part only
    assert "5125550187" not in part


def test_a_webhook_shows_in_its_sources_counts_at_once(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        for n in range(3):
            hook = client.post(
                "/hooks/crm",
                json=dial_body(dial_id=f"count-{n}"),
                headers={"X-Relay-Token": "crm-hook-secret"},
            )
            assert hook.status_code == 202
        refused = client.post("/hooks/crm", json=dial_body(), headers={"X-Relay-Token": "nope"})
        assert refused.status_code == 401
        part = client.get("/console/overview").text
    row = part.split('data-source="crm"', 1)[1].split("</tr>", 1)[0]
    hour = row.split('class="counts hour"', 1)[1].split("</td>", 1)[0]
    assert 'data-outcome="queued">queued 3<' in hour
    assert 'data-outcome="unauthorized">unauthorized 1<' in hour
    assert '<span class="tag bad" data-outcome="unauthorized">' in hour  # trouble: a 401
    assert '<span class="tag " data-outcome="queued">' in hour
    assert "never" not in row.split('class="last"', 1)[1].split("</td>", 1)[0]
    other = part.split('data-source="other"', 1)[1].split("</tr>", 1)[0]
    assert "never" in other
