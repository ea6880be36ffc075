"""Redis: leasing shared by replicas: one consumer each, take-over, poison, blocking reads."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from structlog.testing import capture_logs

from relay.config.settings import Settings
from relay.delivery.client import create_client
from relay.delivery.worker import Forwarder
from relay.obs.events import RelayEvent
from relay.obs.feed import EventFeed
from relay.obs.metrics import RelayMetrics
from relay.obs.tally import OutcomeTally
from relay.queue.base import PoisonedDial
from relay.queue.redis import RedisStreamQueue
from tests.unit.queue.redis.support import MakeQueue, new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_replicas_share_the_work_once(make_queue: MakeQueue) -> None:
    """Two consumers on one queue each lease a different share; no dial goes to both."""
    a, b = await make_queue(), await make_queue()
    for i in range(40):
        assert await a.enqueue(new(f"d{i}"), 60)
    got: list[str] = []
    for _ in range(10):
        for queue in (a, b):
            leased = await queue.lease(3, 30, now=time.time())
            got += [d.dial_id for d in leased]
            await queue.ack([d.id for d in leased])
    assert Counter(got) == Counter(f"d{i}" for i in range(40))
    stats = await b.stats(now=time.time())
    assert (stats.ready, stats.leased, stats.delayed, stats.by_source) == (0, 0, 0, {})


async def test_dead_replicas_leases_are_taken_over(make_queue: MakeQueue) -> None:
    """Leases of a consumer that stopped answering go to another after the visibility timeout."""
    dead, alive = await make_queue(), await make_queue()
    for i in range(3):
        await dead.enqueue(new(f"d{i}"), 60)
    assert len(await dead.lease(10, 0.3, now=time.time())) == 3
    assert await alive.lease(10, 0.3, now=time.time()) == []
    await asyncio.sleep(0.35)
    taken = await alive.lease(10, 0.3, now=time.time())
    assert sorted(d.dial_id for d in taken) == ["d0", "d1", "d2"]
    assert {d.attempts for d in taken} == {2}


async def test_poison_dial_is_dead_lettered(make_queue: MakeQueue) -> None:
    """A dial handed out more than max_deliveries times without an outcome is dead-lettered."""
    a = await make_queue(max_deliveries=2)
    b = await make_queue(max_deliveries=2)
    await a.enqueue(new("poison"), 60)
    assert len(await a.lease(1, 0.2, now=time.time())) == 1
    await asyncio.sleep(0.25)
    assert len(await b.lease(1, 0.2, now=time.time())) == 1  # second delivery
    await asyncio.sleep(0.25)
    with capture_logs() as logs:
        assert await a.lease(1, 0.2, now=time.time()) == []  # a third would exceed 2
    (dead,) = await a.list_dead()
    assert (dead.dial_id, dead.reason, dead.status) == ("poison", "poison", None)
    assert "3 times" in dead.response_body
    assert [e["dial_id"] for e in logs if e["event"] == "dial_poisoned"] == ["poison"]
    assert (await a.stats(now=time.time())).leased == 0


async def _poison(make_queue: MakeQueue, dial_id: str) -> RedisStreamQueue:
    """A queue whose next lease dead-letters ``dial_id`` as poison (handed out twice, its
    replicas gone each time, with max_deliveries 2)."""
    a = await make_queue(max_deliveries=2)
    b = await make_queue(max_deliveries=2)
    await a.enqueue(new(dial_id), 60)
    for queue in (a, b):
        assert len(await queue.lease(1, 0.2, now=time.time())) == 1
        await asyncio.sleep(0.25)
    return a


async def test_poison_is_told_to_each_listener(make_queue: MakeQueue) -> None:
    """``on_poison`` listeners get the dead-lettered dial; one that raises is logged and
    does not stop the others or fail the lease."""
    a = await _poison(make_queue, "told")
    got: list[PoisonedDial] = []

    def broken(_dial: PoisonedDial) -> None:
        raise RuntimeError("a listener's bug")

    a.on_poison(broken)
    a.on_poison(got.append)
    with capture_logs() as logs:
        assert await a.lease(1, 0.2, now=time.time()) == []
    ((dead,),) = [got]
    assert (dead.source, dead.dial_id, dead.deliveries) == ("crm", "told", 3)
    assert [d.dial_id for d in await a.list_dead()] == ["told"]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "dial_poisoned",
        "poison_listener_failed",
    ]


async def test_forwarder_counts_poison_like_its_own_dead_letters(make_queue: MakeQueue) -> None:
    """A poison dead letter is in ``relay_dials_dead_lettered_total{reason="poison"}``, the
    activity counts (``dead_lettered``) and the live feed, as the forwarder's own are."""
    a = await _poison(make_queue, "counted")
    settings = Settings()
    events = EventFeed()
    tally = OutcomeTally()
    forwarder = Forwarder(
        queue=a,
        sources={},
        settings=settings,
        client=create_client(settings),
        metrics=RelayMetrics(),
        events=events,
        tally=tally,
    )
    async with events.subscribe() as feed:
        assert await a.lease(1, 0.2, now=time.time()) == []
        (event,) = feed.pending()
    labels = {"source": "crm", "reason": "poison"}
    registry = forwarder.metrics.registry
    assert registry.get_sample_value("relay_dials_dead_lettered_total", labels) == 1.0
    assert [(r.source, r.outcome, r.count) for r in tally.pending(now=time.time())] == [
        ("crm", "dead_lettered", 1)
    ]
    assert isinstance(event, RelayEvent)
    assert (event.kind, event.dial_id, event.reason) == ("dead_lettered", "counted", "poison")
    assert "3 times" in (event.detail or "")
    await forwarder.client.aclose()


async def test_blocking_lease_returns_a_dial_stored_meanwhile(make_queue: MakeQueue) -> None:
    """An empty lease waits briefly on the stream and returns a dial another replica stores."""
    reader = await make_queue(block_seconds=5)
    writer = await make_queue()
    pending = asyncio.create_task(reader.lease(5, 30, now=time.time()))
    await asyncio.sleep(0.1)
    await writer.enqueue(new("late"), 60)
    assert [d.dial_id for d in await pending] == ["late"]
