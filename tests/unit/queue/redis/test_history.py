"""Redis: dial history's own paths: poison, trimming leaves no key behind, a full Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
from structlog.testing import capture_logs

from relay.queue.base import Attempt
from tests.support.redis import REDIS_URL, PrivateRedis
from tests.unit.queue.redis.support import MakeQueue, fill, new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_a_poison_dial_says_so_in_its_history(make_queue: MakeQueue) -> None:
    """A dial dead-lettered as poison (no outcome after max_deliveries) shows it."""
    a = await make_queue(max_deliveries=1)
    await a.enqueue(new("poison"), 60)
    assert len(await a.lease(1, 0.2, now=time.time())) == 1
    await asyncio.sleep(0.25)
    with capture_logs():
        assert await a.lease(1, 0.2, now=time.time()) == []
    (dead,) = await a.list_dead()
    (record,) = await a.dial_history("poison")
    assert (record.state, record.dead_id) == ("dead", dead.id)
    assert [(e.kind, e.reason) for e in record.events] == [
        ("received", "dial"),
        ("dead_lettered", "poison"),
    ]
    assert record.payload == dead.payload


async def test_trimmed_history_leaves_no_key_behind(make_queue: MakeQueue, prefix: str) -> None:
    """Once every record is trimmed, no history key or index entry is left in Redis."""
    queue = await make_queue()
    now = time.time()
    for i in range(3):
        await queue.enqueue(new(f"t{i}", source="crm" if i else "other", at=now), 60)
    leased = await queue.lease(10, 30, now=now)
    await queue.ack([d.id for d in leased], attempts={d.id: Attempt(now, 1, 200) for d in leased})
    with redis.Redis.from_url(REDIS_URL) as client:
        kept = {k.decode() for k in client.scan_iter(match="{" + prefix + "}:h*")}
        assert len(kept) == 3 + 5  # 3 records; hid, hsrc:crm, hsrc:other, hsources, hdone
        assert await queue.trim_history(before=now + 1) == 3
        assert list(client.scan_iter(match="{" + prefix + "}:h*")) == []
    assert await queue.list_history() == []


async def test_on_a_full_redis_history_gives_way_to_new_dials(
    make_queue: MakeQueue, full_redis: PrivateRedis
) -> None:
    """At maxmemory, the history of dials settled longest ago is dropped (and logged) so that
    a new dial is still stored: history never costs a webhook its 202."""
    q = await make_queue(url=full_redis.url)
    stored = await fill(q)  # nothing settled yet: no history to drop, the store is refused
    while leased := await q.lease(200, 30, now=time.time()):
        await q.ack([d.id for d in leased])
    assert len(await q.dial_history("d0")) == 1  # delivered, its history kept
    with capture_logs() as logs:
        assert await q.enqueue(new("room-again"), 3600)
    (dropped,) = [e for e in logs if e["event"] == "dial_history_dropped"]
    assert dropped["reason"] == "redis_full" and dropped["records"] > 0
    assert await q.dial_history("d0") == []  # the oldest went first
    assert len(await q.dial_history(f"d{stored - 1}")) == 1
