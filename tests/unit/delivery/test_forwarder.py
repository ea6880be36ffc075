"""Forwarder outcomes, one class each, against the fake outboundIQ."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from relay.config.settings import Settings
from relay.delivery.policy import Outcome, backoff_delay, classify, parse_retry_after
from relay.delivery.worker import Forwarder
from relay.obs.metrics import RelayMetrics
from relay.queue.sqlite import SqliteQueue
from tests.conftest import DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.http import http_date
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (201, Outcome.DELIVERED),
        (202, Outcome.DELIVERED),
        (None, Outcome.RETRY),
        (408, Outcome.RETRY),
        (425, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (401, Outcome.HOLD_KEY),
        (403, Outcome.HOLD_KEY),
        (400, Outcome.DEAD),
        (404, Outcome.DEAD),
        (422, Outcome.DEAD),
        (301, Outcome.DEAD),
    ],
)
def test_classification_table(status: int | None, outcome: Outcome) -> None:
    """The one classification table."""
    assert classify(status) is outcome


def test_backoff_is_bounded_full_jitter() -> None:
    """Delays stay within [0, min(cap, base*2^(n-1))]."""
    for attempt in range(1, 80):
        d = backoff_delay(attempt, base=1.0, cap=600.0)
        assert 0 <= d <= min(600.0, 2 ** (attempt - 1))


def test_retry_after_forms() -> None:
    """Retry-After is read as seconds or as an HTTP date."""
    now = time.time()
    assert parse_retry_after("7", now=now) == 7
    assert abs(parse_retry_after(http_date(now + 30), now=now) - 30) <= 1  # type: ignore[operator]
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


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


def test_token_bucket_reserve_spaces_callers() -> None:
    """Reserved tokens past the burst wait 1/rate apart, in arrival order."""
    from relay.delivery.ratelimit import TokenBucket

    now = [0.0]
    bucket = TokenBucket(10.0, burst=2, clock=lambda: now[0])
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])
    now[0] = 10.0
    assert bucket.take() == 0.0


def test_new_dials_do_not_wake_the_loop_while_the_circuit_is_open(tmp_path: Path) -> None:
    """While outboundIQ is down, a webhook does not wake the forwarder (it would find nothing
    it may send); once the circuit closes, it does. Other wake-ups always go through."""
    forwarder = Forwarder(
        queue=SqliteQueue(tmp_path / "q.db"),
        sources={},
        settings=Settings(),
        client=httpx.AsyncClient(),
        metrics=RelayMetrics(),
    )
    forwarder.queued()
    assert forwarder._wake.is_set()
    forwarder._wake.clear()
    for _ in range(forwarder.circuit_threshold):
        forwarder._note_destination(503)
    assert forwarder.circuit_open
    forwarder.queued()
    assert not forwarder._wake.is_set()
    forwarder.wake()
    assert forwarder._wake.is_set()
