"""Redis: the rest of the delivery path: dedupe shared by replicas, settling leases."""

from __future__ import annotations

import time

import pytest
import redis

from tests.support.redis import REDIS_URL
from tests.unit.queue.redis.support import MakeQueue, new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


async def test_dedupe_is_shared_by_replicas(make_queue: MakeQueue) -> None:
    """A dial_id stored through one replica is a duplicate on another."""
    a, b = await make_queue(), await make_queue()
    assert await a.enqueue(new("x"), 60)
    assert not await b.enqueue(new("x"), 60)
    assert (await b.stats(now=time.time())).ready == 1


async def test_stream_keeps_every_unacknowledged_entry(make_queue: MakeQueue, prefix: str) -> None:
    """An entry leaves the stream only with its ack (or its move to the delayed set)."""
    q = await make_queue()
    for i in range(5):
        await q.enqueue(new(f"d{i}"), 60)
    leased = await q.lease(5, 30, now=time.time())
    await q.ack([leased[0].id, leased[1].id])
    await q.retry(leased[2].id, time.time() + 600, "http 500")
    with redis.Redis.from_url(REDIS_URL) as r:
        stream = "{" + prefix + "}:stream:0"
        assert r.xlen(stream) == 2
        assert r.xpending(stream, "relay")["pending"] == 2
        assert r.zcard("{" + prefix + "}:delayed") == 1
