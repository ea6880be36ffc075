"""Redis: the scripts of one event-loop turn go in one pipeline, and each call still gets its
own answer: stored, duplicate, or its own error."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest
import redis

from relay.exceptions import QueueError, QueueUnavailable
from tests.support.redis import REDIS_URL, PrivateRedis
from tests.unit.queue.redis.support import MakeQueue, new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@dataclass(frozen=True)
class Counters:
    reads: int  # read events Redis processed: one per round trip (a big one may take a few)
    scripts: int  # EVALSHA calls
    connections: int  # connections Redis accepted


def counters(r: redis.Redis) -> Counters:
    stats = r.info("stats")
    calls = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    return Counters(
        int(stats["total_reads_processed"]), int(calls), int(stats["total_connections_received"])
    )


async def test_one_round_trip_for_a_turns_enqueues(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """300 webhooks stored in the same loop turn: one script call (``enqueue_each``) in one
    round trip, on one connection (one by one they were 300 round trips, on up to 300
    connections; then one pipeline of 300 scripts)."""
    q = await make_queue(url=private_redis.url)
    assert await q.enqueue(new("warm-up"), 60)  # group created, connection open
    with redis.Redis.from_url(private_redis.url) as r:
        before = counters(r)
        stored = await asyncio.gather(*(q.enqueue(new(f"d{i}"), 60) for i in range(300)))
        after = counters(r)
    assert stored == [True] * 300
    assert after.scripts - before.scripts == 1
    assert after.reads - before.reads <= 20  # one pipeline (~60 KB: a few reads) + INFO
    assert after.connections == before.connections
    assert (await q.stats(now=time.time())).ready == 301


async def test_calls_of_later_turns_wait_for_the_pipeline_in_flight(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """Webhooks that reach the queue one loop turn apart, while a pipeline is on its way,
    wait for it and then go together: far fewer round trips than turns (one pipeline per
    turn was one round trip each), and each call still stored and answered."""
    q = await make_queue(url=private_redis.url)
    assert await q.enqueue(new("warm-up"), 60)
    with redis.Redis.from_url(private_redis.url) as r:
        before = counters(r)
        calls = []
        for i in range(60):  # one call per turn
            calls.append(asyncio.ensure_future(q.enqueue(new(f"t{i}"), 60)))
            await asyncio.sleep(0)
        stored = await asyncio.gather(*calls)
        after = counters(r)
    assert stored == [True] * 60
    assert after.scripts - before.scripts <= 30  # one per pipeline
    assert after.reads - before.reads <= 30  # INFO included; 60 turns were 60 round trips
    assert (await q.stats(now=time.time())).ready == 61


async def test_each_call_gets_its_own_answer(make_queue: MakeQueue) -> None:
    """In one pipeline: a new dial is stored, a repeat of it and an old one are duplicates."""
    q = await make_queue()
    assert await q.enqueue(new("old"), 60)
    answers = await asyncio.gather(
        q.enqueue(new("a"), 60),
        q.enqueue(new("old"), 60),
        q.enqueue(new("a"), 60),
        q.enqueue(new("b"), 60),
    )
    assert answers == [True, False, False, True]
    assert (await q.stats(now=time.time())).ready == 3


async def test_a_failing_script_fails_only_its_call(make_queue: MakeQueue, prefix: str) -> None:
    """A script Redis refuses (here: its dedupe key holds the wrong type) fails its own call;
    the others of the same pipeline are stored."""
    q = await make_queue()
    with redis.Redis.from_url(REDIS_URL) as r:
        r.hset("{" + prefix + "}:seen:3:crm:bad", "x", "1")
    answers = await asyncio.gather(
        q.enqueue(new("ok-1"), 60),
        q.enqueue(new("bad"), 60),
        q.enqueue(new("ok-2"), 60),
        return_exceptions=True,
    )
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], QueueError) and "WRONGTYPE" in str(answers[1])
    assert not isinstance(answers[1], QueueUnavailable)
    dial_ids = {d.dial_id for d in await q.lease(10, 30, now=time.time())}
    assert dial_ids == {"ok-1", "ok-2"}


async def test_a_failed_pipeline_fails_every_call_in_it(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """Redis gone: every call of the turn is unavailable (none answered stored). Back empty,
    with no scripts loaded, the next turn loads them and stores every call once."""
    q = await make_queue(url=private_redis.url)
    assert await q.enqueue(new("before"), 60)
    private_redis.kill()
    answers = await asyncio.gather(
        *(q.enqueue(new(f"lost-{i}"), 60) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(a, QueueUnavailable) for a in answers), answers
    private_redis.start()  # same port, empty: no keys, no scripts
    stored = await asyncio.gather(*(q.enqueue(new(f"after-{i}"), 60) for i in range(5)))
    assert stored == [True] * 5
    assert (await q.stats(now=time.time())).ready == 5


async def test_lost_script_cache_is_reloaded(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """After SCRIPT FLUSH, a turn's calls answered NOSCRIPT (they ran nothing) are sent again."""
    q = await make_queue(url=private_redis.url)
    assert await q.enqueue(new("first"), 60)
    with redis.Redis.from_url(private_redis.url) as r:
        r.script_flush()
    stored = await asyncio.gather(*(q.enqueue(new(f"d{i}"), 60) for i in range(20)))
    assert stored == [True] * 20
    assert (await q.stats(now=time.time())).ready == 21


async def test_close_sends_what_waits(make_queue: MakeQueue, private_redis: PrivateRedis) -> None:
    """Calls queued in the turn a close begins are sent and answered before the client
    closes, and the close leaves no connection open."""
    q = await make_queue(url=private_redis.url)
    calls = [asyncio.ensure_future(q.enqueue(new(f"c{i}"), 60)) for i in range(10)]
    await asyncio.sleep(0)  # every call is queued, none sent yet
    await q.close()
    assert [await c for c in calls] == [True] * 10
    with redis.Redis.from_url(private_redis.url) as r:
        assert r.xlen("{" + q.prefix + "}:stream:0") == 10
        deadline = time.monotonic() + 5  # Redis may see the close after this client's INFO
        while r.info("clients")["connected_clients"] > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert r.info("clients")["connected_clients"] == 1  # this one


async def test_enqueues_and_held_legs_in_one_pipeline(make_queue: MakeQueue) -> None:
    """A turn's enqueues (one batch script call) and a coalescing source's first and later
    legs (their own script calls) share a pipeline; each gets its own answer, in order."""
    q = await make_queue()

    def merge(held: bytes, later: bytes) -> bytes:
        return held

    answers = await asyncio.gather(
        q.enqueue(new("e1"), 60),
        q.coalesce(new("call"), 60, window=100, merge=merge),
        q.enqueue(new("e1"), 60),
        q.enqueue(new("e2"), 60),
    )
    assert answers == [True, "queued", False, True]
    assert await q.coalesce(new("call"), 60, window=100, merge=merge) == "coalesced"
    assert (await q.stats(now=time.time())).ready == 2
