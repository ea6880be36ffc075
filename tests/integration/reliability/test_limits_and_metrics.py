"""Max age, the per-key rate limit, and the metrics an operator watches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from structlog.testing import capture_logs

from relay.config.settings import Settings
from relay.queue import create_queue
from relay.queue.base import RejectedRecord
from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread
from tests.support.scrape import value

CRM = {"X-Relay-Token": "crm-hook-secret"}


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_too_old_dial_is_dead_lettered_not_dropped(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A dial still undelivered past the max age moves to the DLQ with the reason."""
    fake.default = Reply(503)
    relay = start_relay(max_age_seconds=1.0, retry_base_seconds=0.1, retry_cap_seconds=0.2)
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="old"), headers=CRM)
    queue = relay.runtime.queue
    assert fake.wait_for(lambda: relay.call(queue.stats(now=time.time())).dead == 1, timeout=10)
    (dead,) = relay.call(queue.list_dead())
    assert dead.reason == "max_age_exceeded" and dead.dial_id == "old"


def test_rate_limit_per_key_spaces_deliveries(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """With a limit of 20 dials/s per key, 40 dials take at least a second to send."""
    relay = start_relay(rate_limit_per_key=20.0)
    with httpx.Client() as client:
        for i in range(40):
            client.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"r{i}"), headers=CRM)
    got = fake.wait_accepted(40, timeout=15)
    span = max(r.at for r in got) - min(r.at for r in got)
    assert span >= (40 - 20) / 20 * 0.9


def _value(metrics: str, name: str) -> float:
    lines = [
        x for x in metrics.splitlines() if x.startswith(name + " ") or x.startswith(name + "{")
    ]
    assert lines, f"{name} not exported"
    return float(lines[0].rsplit(" ", 1)[1])


def test_metrics_cover_the_delivery_path(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Webhooks by outcome, deliveries, retries, dead letters, latency and backlog are exported."""
    fake.fail_dial("dead", Reply(400))
    fake.script(Reply(500))
    relay = start_relay()
    with httpx.Client() as c:
        for i in range(3):
            c.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id=f"m{i}"), headers=CRM)
        c.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="m0"), headers=CRM)
        c.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="dead"), headers=CRM)
        c.post(f"{relay.url}/hooks/crm", json={"x": 1}, headers=CRM)
        c.post(f"{relay.url}/hooks/crm", json={}, headers={"X-Relay-Token": "no"})

    def scrape() -> str:
        return httpx.get(f"{relay.url}/metrics").text

    assert fake.wait_for(
        lambda: (
            'relay_dials_delivered_total{source="crm"} 3.0' in scrape()
            and 'relay_queue_depth{state="dead"} 1.0' in scrape()
        )
    )
    m = scrape()
    assert 'relay_webhooks_total{outcome="queued",source="crm"} 4.0' in m
    assert 'relay_webhooks_total{outcome="duplicate",source="crm"} 1.0' in m
    assert 'relay_webhooks_total{outcome="rejected",source="crm"} 1.0' in m
    assert 'relay_webhooks_total{outcome="unauthorized",source="crm"} 1.0' in m
    assert 'relay_dials_delivered_total{source="crm"} 3.0' in m
    assert 'relay_dials_retried_total{reason="http_500",source="crm"} 1.0' in m
    assert 'relay_dials_dead_lettered_total{reason="http_400",source="crm"} 1.0' in m
    assert _value(m, "relay_forward_latency_seconds_count") >= 5
    assert 'relay_queue_depth{state="dead"} 1.0' in m
    assert 'relay_queue_depth{state="rejected"} 1.0' in m
    assert _value(m, "relay_queue_oldest_age_seconds") == 0.0
    assert _value(m, "relay_held_keys") == 0.0
    assert _value(m, "relay_destination_circuit_open") == 0.0
    assert _value(m, "relay_worker_heartbeat_age_seconds") < 5
    assert "oiq-default-key" not in m and "crm-hook-secret" not in m


def test_rejected_store_keeps_its_limits_and_says_what_it_drops(
    start_relay: Callable[..., RelayThread], make_settings: Callable[..., Settings]
) -> None:
    """The rejected store holds at most RELAY_REJECTED_MAX_RECORDS records, none older than
    RELAY_REJECTED_MAX_AGE_SECONDS: the oldest go, each drop counted by reason in
    relay_rejected_dropped_total and logged (`rejected_dropped`)."""
    settings = make_settings(rejected_max_records=3, rejected_max_age_seconds=30 * 86400)
    old = RejectedRecord("", "crm", time.time() - 40 * 86400, "POST", "text/plain", {}, b"x", [])

    async def keep_an_old_record() -> None:
        queue = create_queue(settings.queue_url)
        await queue.open()
        await queue.add_rejected(old)
        await queue.close()

    asyncio.run(keep_an_old_record())
    with capture_logs() as logs:
        relay = start_relay(settings=settings)
        assert wait_until(lambda: value(relay.url, "relay_rejected_dropped_total", reason="age"))
        kept = []
        for i in range(5):
            body = dial_body(dial_id=f"rj-{i}", prospect_phone="not-a-number")
            r = httpx.post(f"{relay.url}/hooks/crm", json=body, headers=CRM)
            assert r.status_code == 422
            kept.append(r.json()["rejected_id"])
        dropped = lambda: value(relay.url, "relay_rejected_dropped_total", reason="count")  # noqa: E731
        assert wait_until(lambda: dropped() == 2)
    queue = relay.runtime.queue
    assert [r.id for r in relay.call(queue.list_rejected())] == kept[2:]
    assert value(relay.url, "relay_rejected_dropped_total", reason="age") == 1
    lines = [e for e in logs if e["event"] == "rejected_dropped"]
    assert {e["reason"] for e in lines} == {"age", "count"}
    assert sum(e["records"] for e in lines if e["reason"] == "count") == 2
    assert all(e["log_level"] == "warning" for e in lines)
