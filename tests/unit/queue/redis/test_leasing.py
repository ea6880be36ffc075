"""Redis: leasing shared by replicas: one consumer each, take-over, poison, blocking reads."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from structlog.testing import capture_logs

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


async def test_blocking_lease_returns_a_dial_stored_meanwhile(make_queue: MakeQueue) -> None:
    """An empty lease waits briefly on the stream and returns a dial another replica stores."""
    reader = await make_queue(block_seconds=5)
    writer = await make_queue()
    pending = asyncio.create_task(reader.lease(5, 30, now=time.time()))
    await asyncio.sleep(0.1)
    await writer.enqueue(new("late"), 60)
    assert [d.dial_id for d in await pending] == ["late"]
