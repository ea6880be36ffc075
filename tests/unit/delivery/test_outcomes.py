"""What happens to a leased dial after an attempt: the outcomes, unit by unit, then end to end."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from relay.delivery.holds import key_id, vendor_hold
from relay.delivery.poster import PostResult
from tests.conftest import DEFAULT_KEY, dial_body
from tests.support.delivery import Bench
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

KEY = SecretStr(DEFAULT_KEY)  # crm's and shop's key
CRM = {"X-Relay-Token": "crm-hook-secret"}


def _answer(status: int | None, body: str = "", retry_after: str | None = None) -> PostResult:
    error = f"http {status}" if status is not None else "timeout (ReadTimeout)"
    return PostResult(status, body, retry_after, error)


# --- unit: Outcomes on a real queue ------------------------------------------------------
@pytest.mark.anyio
async def test_2xx_acks_and_counts(bench: Bench) -> None:
    dial = await bench.lease()
    bench.clock.now += 5
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, KEY, _answer(201))
    assert (await bench.queue.stats(now=bench.clock.now)).leased == 0
    assert await bench.queue.next_due() is None
    assert bench.state.delivered == 1
    assert bench.state.heartbeat == bench.clock.now
    assert bench.sample("relay_dials_delivered_total", source="crm") == 1
    assert logs == [
        {
            "event": "dial_forwarded",
            "log_level": "info",
            "source": "crm",
            "dial_id": "d-1",
            "attempt": 1,
            "status": 201,
            "outcome": "delivered",
        }
    ]


@pytest.mark.anyio
async def test_401_holds_every_source_of_the_key(bench: Bench) -> None:
    """The refused dial and every waiting dial of the sources sharing the key wait a probe
    period; a source with another key goes on."""
    dial = await bench.lease("crm", "d-1")
    await bench.enqueue("shop", "s-1")
    await bench.enqueue("other", "o-1")
    now = bench.clock.now
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, KEY, _answer(401))
    hold = bench.holds[key_id(KEY)]
    assert hold.sources == {"crm", "shop"} and hold.status == 401
    assert hold.next_probe == now + 60
    assert bench.holds.hold_until("shop") == now + 60
    assert await bench.due("other", now) == ["o-1"]
    assert await bench.due("crm", now + 59) == [] and await bench.due("shop", now + 59) == []
    assert await bench.due("crm", now + 60) == ["d-1"]
    assert await bench.due("shop", now + 60) == ["s-1"]
    assert bench.sample("relay_dials_retried_total", source="crm", reason="key_held_401") == 1
    assert bench.sample("relay_held_keys") == 1
    assert bench.sample("relay_source_held", source="shop") == 1
    assert bench.sample("relay_source_held", source="other") == 0
    assert [e["event"] for e in logs] == ["outboundiq_key_refused"]
    assert logs[0]["probe_in"] == 60 and logs[0]["status"] == 401


@pytest.mark.anyio
async def test_2xx_lifts_the_holds_on_its_source(bench: Bench) -> None:
    """A probe accepted: the hold is gone and the held sources' dials are due now."""
    refused = await bench.lease("crm", "d-1")
    await bench.outcomes.posted(refused, KEY, _answer(403))
    await bench.enqueue("shop", "s-1")
    await bench.queue.delay_sources({"shop"}, bench.clock.now + 60)
    (probe,) = await bench.queue.lease(1, 60, now=bench.clock.now + 60, only_sources={"crm"})
    bench.clock.now += 60
    with capture_logs() as logs:
        await bench.outcomes.posted(probe, KEY, _answer(200))
        await bench.settle()
    assert not bench.holds
    assert await bench.due("shop", bench.clock.now) == ["s-1"]
    assert bench.sample("relay_held_keys") == 0
    assert bench.sample("relay_source_held", source="crm") == 0
    resumed = [e for e in logs if e["event"] == "outboundiq_key_resumed"]
    assert resumed == [
        {"event": "outboundiq_key_resumed", "log_level": "info", "sources": ["crm", "shop"]}
    ]
    assert bench.wakes >= 1


@pytest.mark.anyio
async def test_401_for_a_key_replaced_meanwhile_retries_at_once(bench: Bench) -> None:
    """The sources file was reloaded while the POST was in flight: no hold, try the new key."""
    dial = await bench.lease()
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, SecretStr("oiq-old-key"), _answer(401))
    assert not bench.holds
    assert await bench.queue.next_due() == bench.clock.now
    assert bench.wakes == 1
    assert [e["event"] for e in logs] == ["outboundiq_key_refused_stale"]
    assert bench.sample("relay_dials_retried_total", source="crm", reason="key_held_401") is None


@pytest.mark.anyio
async def test_other_4xx_dead_letters_with_status_and_body(bench: Bench) -> None:
    dial = await bench.lease()
    body = '{"error":"zip invalid"}' + "x" * 300
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, KEY, _answer(422, body))
    (dead,) = await bench.queue.list_dead()
    assert (dead.dial_id, dead.reason, dead.status, dead.response_body) == (
        "d-1",
        "http_422",
        422,
        body,
    )
    assert dead.dead_at == bench.clock.now
    assert bench.sample("relay_dials_dead_lettered_total", source="crm", reason="http_422") == 1
    assert [e["event"] for e in logs] == ["dial_dead_lettered"]
    assert logs[0]["response"] == body[:200]


@pytest.mark.anyio
async def test_retry_after_longer_than_the_backoff_is_honoured(bench: Bench) -> None:
    dial = await bench.lease()
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, KEY, _answer(503, retry_after="30"))
    assert await bench.queue.next_due() == bench.clock.now + 30
    assert bench.wakes == 1
    assert bench.sample("relay_dials_retried_total", source="crm", reason="http_503") == 1
    assert [(e["event"], e["retry_in"], e["error"]) for e in logs] == [
        ("dial_retry_scheduled", 30.0, "http 503")
    ]


@pytest.mark.anyio
async def test_retry_after_is_capped(bench: Bench) -> None:
    dial = await bench.lease()
    await bench.outcomes.posted(dial, KEY, _answer(429, retry_after="86400"))
    assert await bench.queue.next_due() == bench.clock.now + 100


@pytest.mark.anyio
async def test_no_answer_is_retried_with_backoff(bench: Bench) -> None:
    dial = await bench.lease()
    await bench.outcomes.posted(dial, KEY, _answer(None))
    due = await bench.queue.next_due()
    assert due is not None and bench.clock.now <= due <= bench.clock.now + 1.0  # attempt 1
    assert (
        bench.sample("relay_dials_retried_total", source="crm", reason="timeout_or_connection") == 1
    )


@pytest.mark.anyio
async def test_park_waits_a_probe_period_without_waking(bench: Bench) -> None:
    dial = await bench.lease()
    await bench.outcomes.park(dial, reason="no_api_key", now=bench.clock.now - 1)
    assert await bench.queue.next_due() == bench.clock.now - 1 + 60
    assert bench.wakes == 0
    assert bench.sample("relay_dials_retried_total", source="crm", reason="no_api_key") == 1


@pytest.mark.anyio
async def test_an_answer_echoing_secrets_and_phones_is_stored_and_logged_redacted(
    bench: Bench,
) -> None:
    """outboundIQ's answer is data: a key it echoes (the one used for the POST, or any other
    configured secret) is never stored or logged, and its phone numbers are masked."""
    dial = await bench.lease()
    body = (
        '{"error":"prospect_phone 512-555-0187 rejected","echo":{"Authorization":'
        f'"Bearer {DEFAULT_KEY}","other":"oiq-other-key-0002","hook":"crm-hook-secret"}}}}'
    )
    with capture_logs() as logs:
        await bench.outcomes.posted(dial, KEY, _answer(422, body))
    (dead,) = await bench.queue.list_dead()
    (line,) = [e for e in logs if e["event"] == "dial_dead_lettered"]
    for text in (dead.response_body, line["response"]):
        for secret in (DEFAULT_KEY, "oiq-other-key-0002", "crm-hook-secret", "512-555-0187"):
            assert secret not in text
        assert "Bearer **********" in text and "******0187" in text
    assert dead.response_body.startswith('{"error":"prospect_phone ')


@pytest.mark.anyio
async def test_each_answer_goes_to_the_dials_history_redacted(bench: Bench) -> None:
    """Every POST's answer is recorded with the outcome it led to: a retry's answer (redacted:
    no key echoed, phones masked), a held key's 401, and the 2xx that delivered it."""
    dial = await bench.lease()
    echo = f'{{"error":"busy","auth":"Bearer {DEFAULT_KEY}","phone":"512-555-0187"}}'
    await bench.outcomes.posted(dial, KEY, PostResult(503, echo, None, "http 503", 0.5))
    (dial,) = await bench.queue.lease(1, 60, now=bench.clock.now + 100)
    await bench.outcomes.posted(dial, KEY, _answer(None))
    (dial,) = await bench.queue.lease(1, 60, now=bench.clock.now + 1000)
    await bench.outcomes.posted(dial, KEY, _answer(401))
    (dial,) = await bench.queue.lease(1, 60, now=bench.clock.now + 1000)
    await bench.outcomes.posted(dial, KEY, PostResult(202, "{}", None, "http 202", 0.03))
    (record,) = await bench.queue.dial_history("d-1")
    attempts = [(e.attempt, e.status, e.answer, e.seconds) for e in record.events if e.attempt]
    assert attempts == [
        (1, 503, '{"error":"busy","auth":"Bearer **********","phone":"******0187"}', 0.5),
        (2, None, "timeout (ReadTimeout)", None),
        (3, 401, "http 401", None),
        (4, 202, "", 0.03),
    ]
    assert [e.kind for e in record.events][-2:] == ["attempt", "delivered"]
    assert record.events[-1].at == bench.clock.now and record.state == "delivered"


@pytest.mark.anyio
async def test_a_dead_letter_keeps_its_attempt_in_the_history(bench: Bench) -> None:
    dial = await bench.lease()
    await bench.outcomes.posted(dial, KEY, _answer(400, '{"error":"campaign unknown"}'))
    (record,) = await bench.queue.dial_history("d-1")
    _received, attempt, dead = record.events
    assert (attempt.status, attempt.answer) == (400, '{"error":"campaign unknown"}')
    assert (dead.kind, dead.reason, dead.status, record.state) == (
        "dead_lettered",
        "http_400",
        400,
        "dead",
    )


@pytest.mark.anyio
async def test_a_resolver_dead_letter_is_redacted_too(bench: Bench) -> None:
    """A dead letter's text from elsewhere (a vendor API's complaint) is redacted the same."""
    dial = await bench.lease()
    await bench.outcomes.dead(
        dial, reason="resolve_unmappable", body=f"genesys: echoed {DEFAULT_KEY} for 5125550187"
    )
    (dead,) = await bench.queue.list_dead()
    assert dead.response_body == "genesys: echoed ********** for ******0187"


@pytest.mark.anyio
async def test_dead_without_an_answer(bench: Bench) -> None:
    dial = await bench.lease()
    await bench.outcomes.dead(dial, reason="max_age_exceeded")
    (dead,) = await bench.queue.list_dead()
    assert (dead.reason, dead.status, dead.response_body) == ("max_age_exceeded", None, "")
    assert (
        bench.sample("relay_dials_dead_lettered_total", source="crm", reason="max_age_exceeded")
        == 1
    )


@pytest.mark.anyio
async def test_a_vendor_hold_is_held_released_and_lifted(bench: Bench) -> None:
    """The resolver's path: hold one source under its own hold key, release, lift."""
    dial = await bench.lease("crm", "d-1")
    await bench.enqueue("crm", "d-2")
    until = bench.outcomes.next_probe(bench.clock.now)
    await bench.outcomes.hold(
        dial,
        key=vendor_hold("crm"),
        sources=frozenset({"crm"}),
        status=401,
        reason="resolve_credentials_held",
        error="vendor said no",
        until=until,
    )
    assert bench.holds.hold_until("crm") == until == bench.clock.now + 60
    assert await bench.due("crm", until - 1) == []
    assert bench.outcomes.release(vendor_hold("crm")) is not None
    assert bench.outcomes.release(vendor_hold("crm")) is None
    assert await bench.due("crm", bench.clock.now) == []  # still delayed until lifted
    await bench.outcomes.lift(frozenset({"crm"}))
    assert await bench.due("crm", bench.clock.now) == ["d-1", "d-2"]
    assert bench.wakes == 1


@pytest.mark.anyio
async def test_recovery_releases_the_whole_backlog(bench: Bench) -> None:
    for i, source in enumerate(("crm", "shop", "other")):
        dial = await bench.lease(source, f"d-{i}")
        await bench.outcomes.retry(dial, bench.clock.now + 300, reason="http_503", error="x")
    with capture_logs() as logs:
        bench.outcomes.recovered()
        await bench.settle()
    assert (await bench.queue.stats(now=bench.clock.now)).ready == 3
    assert logs == [{"event": "backlog_released", "log_level": "info", "dials": 3}]


# --- end to end: the relay against the fake outboundIQ -----------------------------------
def _post(relay: RelayThread, dial_id: str = "call-0001", source: str = "crm") -> None:
    r = httpx.post(f"{relay.url}/hooks/{source}", json=dial_body(dial_id=dial_id), headers=CRM)
    assert r.status_code == 202


@pytest.mark.parametrize(
    "failure",
    [Reply(500), Reply(502), Reply(429), Reply(408), Reply(drop=True), Reply(200, delay=3.0)],
    ids=["500", "502", "429", "408", "dropped", "timeout"],
)
def test_retryable_failures_are_retried(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, failure: Reply
) -> None:
    """5xx, 429, 408, a dropped connection and a timeout are retried until accepted."""
    fake.script(failure, failure)
    relay = start_relay(forward_timeout_seconds=1.0)
    _post(relay)
    got = fake.wait_accepted(1, timeout=15)
    assert [r.json()["dial_id"] for r in got] == ["call-0001"]
    assert len(fake.requests) >= 3


def test_retry_after_seconds_honoured(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A 503 with Retry-After: 2 is not retried before 2 s."""
    fake.script(Reply(503, headers={"Retry-After": "2"}))
    relay = start_relay()
    _post(relay)
    got = fake.wait_accepted(1, timeout=10)
    first, second = fake.requests[0], got[0]
    assert second.at - first.at >= 1.9


def test_401_holds_key_and_never_dead_letters(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A refused key keeps its dials queued, probes, and resumes when the key works again."""
    fake.set_key_status(DEFAULT_KEY, 401)
    relay = start_relay(key_probe_seconds=0.5)
    _post(relay, "a")
    _post(relay, "b")
    fake.wait_for(lambda: len(fake.requests) >= 1)
    time.sleep(1.2)
    refused = len(fake.requests)
    assert refused <= 4  # one probe a period, not a storm
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    assert stats.dead == 0
    assert stats.ready + stats.delayed + stats.leased == 2
    assert relay.runtime.forwarder is not None and relay.runtime.forwarder.holds
    fake.set_key_status(DEFAULT_KEY, None)
    got = fake.wait_accepted(2, timeout=10)
    assert sorted(r.json()["dial_id"] for r in got) == ["a", "b"]


def test_400_dead_letters_with_body(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Other 4xx go to the dead-letter store with status and response body."""
    fake.script(Reply(400, body='{"error":"zip invalid"}'))
    relay = start_relay()
    _post(relay)
    fake.wait_for(lambda: len(fake.requests) == 1)
    queue = relay.runtime.queue

    def dead() -> list[object]:
        return list(relay.call(queue.list_dead()))

    fake.wait_for(lambda: len(dead()) == 1)
    (item,) = relay.call(queue.list_dead())
    assert item.status == 400
    assert "zip invalid" in item.response_body
    assert item.dial_id == "call-0001"
    time.sleep(0.3)
    assert len(fake.requests) == 1
