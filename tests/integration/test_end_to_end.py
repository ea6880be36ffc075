"""A webhook in, exactly one correct POST out, with the right key, for every intake shape."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
EXPECTED = {
    "campaign_id": "abc-123",
    "campaign_name": "Q2 Outbound Push",
    "agent_name": "Jane Doe",
    "ani": "5125550100",
    "disposition_name": "Sale",
    "prospect_phone": "5125550187",
    "datetime": "2026-04-10 14:32:15",
    "call_direction": "Outbound",
    "zip": "78701",
    "sys_created_date_original": "2026-04-01",
    "total_dial_attempts": 3,
    "skill_name": "Sales Tier 1",
    "lead_source": "facebook-ads",
    "dial_id": "call-0001",
}


def _send(relay: RelayThread, shape: str) -> httpx.Response:
    body = dial_body()
    url = f"{relay.url}/hooks/crm"
    if shape == "json":
        return httpx.post(url, json=body, headers=CRM)
    if shape == "form":
        return httpx.post(
            url,
            content=urlencode(body).encode(),
            headers={**CRM, "Content-Type": "application/x-www-form-urlencoded"},
        )
    return httpx.get(url, params=body, headers=CRM)


@pytest.mark.parametrize("shape", ["json", "form", "get"])
def test_one_webhook_one_post(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, shape: str
) -> None:
    """Each intake content type yields exactly one POST /dials with the mapped body."""
    relay = start_relay()
    assert _send(relay, shape).status_code == 202
    got = fake.wait_accepted(1)
    assert fake.wait_for(lambda: False, timeout=0.3) is False  # give a duplicate time to show
    assert len(fake.requests) == 1
    req = got[0]
    assert req.method == "POST" and req.path == "/dials"
    assert req.headers["authorization"] == f"Bearer {DEFAULT_KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == EXPECTED


def test_each_source_uses_its_own_key(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A source with its own api_key sends with it; others use RELAY_OUTBOUNDIQ_API_KEY."""
    relay = start_relay()
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="a"), headers=CRM)
    httpx.post(
        f"{relay.url}/hooks/other",
        json=dial_body(dial_id="b"),
        headers={"Authorization": "Bearer other-hook-secret"},
    )
    got = {r.json()["dial_id"]: r.bearer for r in fake.wait_accepted(2)}
    assert got == {"a": DEFAULT_KEY, "b": "oiq-other-key-0002"}


def test_dry_run_sends_nothing(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """RELAY_DRY_RUN maps and queues, then logs instead of sending."""
    relay = start_relay(dry_run=True)
    assert _send(relay, "json").status_code == 202
    stats = None
    for _ in range(100):
        stats = relay.call(relay.runtime.queue.stats(now=9e18))
        if stats.ready == 0:
            break
        fake.wait_for(lambda: False, timeout=0.02)
    assert stats is not None and stats.ready == 0
    assert fake.requests == []


def test_delivery_survives_restart(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    make_settings: Callable[..., object],
) -> None:
    """A dial queued while outboundIQ is down is delivered by the next relay on the same file."""
    fake.stop()
    settings = make_settings()
    relay = start_relay(settings=settings)
    assert _send(relay, "json").status_code == 202
    relay.stop()
    fake.start()
    start_relay(settings=settings)
    got = fake.wait_accepted(1)
    assert [r.json()["dial_id"] for r in got] == ["call-0001"]
