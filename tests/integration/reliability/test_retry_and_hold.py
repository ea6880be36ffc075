"""Retry-After honoured in both forms; a refused key holds only its own sources."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.http import http_date
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_on_429_is_honoured(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, form: str
) -> None:
    """After a 429 with Retry-After (7 s, or an HTTP date 4 s ahead) nothing is sent before it."""
    wait = 7.0 if form == "seconds" else 4.0

    class Dated(Reply):
        def payload(self) -> bytes:  # the date is computed when the answer is sent
            self.headers["Retry-After"] = http_date(time.time() + wait + 1)
            return super().payload()

    first = Reply(429, headers={"Retry-After": "7"}) if form == "seconds" else Dated(429)
    fake.script(first)
    relay = start_relay(retry_base_seconds=0.05)
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202
    got = fake.wait_accepted(1, timeout=wait + 8)
    assert len(got) == 1
    assert len(fake.requests) == 2
    assert fake.requests[1].at - fake.requests[0].at >= wait - 0.05


def test_401_holds_one_source_other_flows_fix_resumes(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """401 for one key holds only its source; the other flows; fixing the key loses nothing."""
    fake.set_key_status(DEFAULT_KEY, 401)
    relay = start_relay(key_probe_seconds=1.0)
    with httpx.Client() as client:
        for i in range(20):
            assert (
                client.post(
                    f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"c-{i}"), headers=CRM
                ).status_code
                == 202
            )
            assert (
                client.post(
                    f"{relay.url}/hooks/other", json=dial_body(dial_id=f"o-{i}"), headers=OTHER
                ).status_code
                == 202
            )
    assert fake.wait_for(lambda: len(fake.accepted()) >= 20)
    assert {r.json()["dial_id"] for r in fake.accepted()} == {f"o-{i}" for i in range(20)}
    refused = [r for r in fake.requests if r.status == 401]
    assert len(refused) <= 3  # a hold, not 20 refusals
    metrics = httpx.get(f"{relay.url}/metrics").text
    assert 'relay_source_held{source="crm"} 1.0' in metrics
    assert 'relay_source_held{source="other"} 0.0' in metrics
    assert "relay_held_keys 1.0" in metrics
    fake.set_key_status(DEFAULT_KEY, None)
    assert fake.wait_for(lambda: len(fake.accepted()) >= 40, timeout=10)
    counts = fake.accepted_counts()
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert "relay_held_keys 0.0" in httpx.get(f"{relay.url}/metrics").text


def test_config_reload_lifts_hold_at_once(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A reload with a new key resumes a held source immediately, not at the next probe."""
    fake.set_key_status(DEFAULT_KEY, 401)
    relay = start_relay(key_probe_seconds=300.0)
    for i in range(5):
        httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"r-{i}"), headers=CRM)
    forwarder = relay.runtime.forwarder
    assert forwarder is not None
    assert fake.wait_for(lambda: bool(forwarder.holds))
    sources = dict(relay.runtime.sources)
    sources["crm"].api_key = SecretStr("oiq-new-key-0003")
    assert relay.loop is not None
    relay.loop.call_soon_threadsafe(forwarder.update_sources, sources)
    assert fake.wait_for(lambda: len(fake.accepted()) >= 5, timeout=5)
    assert {r.bearer for r in fake.accepted()} == {"oiq-new-key-0003"}


def test_refusal_of_a_key_replaced_meanwhile_does_not_hold(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A 401 that answers a POST sent with a key the reload has since replaced is retried now."""
    fake.default = Reply(401, delay=1.0)
    relay = start_relay(key_probe_seconds=300.0)
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="stale"), headers=CRM)
    assert fake.wait_for(lambda: len(fake.requests) == 1)  # in flight with the old key
    forwarder = relay.runtime.forwarder
    assert forwarder is not None and relay.loop is not None
    sources = dict(relay.runtime.sources)
    sources["crm"].api_key = SecretStr("oiq-new-key-0004")
    relay.loop.call_soon_threadsafe(forwarder.update_sources, sources)
    fake.default = Reply(200)
    got = fake.wait_accepted(1, timeout=5)
    assert [r.bearer for r in got] == ["oiq-new-key-0004"]
    assert not forwarder.holds
