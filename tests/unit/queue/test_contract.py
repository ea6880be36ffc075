"""The queue contract: the semantics every backend must have (run against each backend)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from relay.queue.base import DialQueue, NewDial, RejectedRecord

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
VISIBILITY = 0.5  # seconds; the one test that waits for a lease to run out


def new(dial_id: str, source: str = "crm", at: float = T0, lane: int = 0) -> NewDial:
    return NewDial(
        source=source,
        dial_id=dial_id,
        payload=b'{"dial_id":"%s"}' % dial_id.encode(),
        received_at=at,
        lane=lane,
    )


async def test_enqueue_then_lease_and_ack(queue: DialQueue) -> None:
    """A stored dial is leased once, and gone after ack."""
    assert await queue.enqueue(new("a"), 3600)
    leased = await queue.lease(10, 30, now=T0)
    assert [(d.dial_id, d.attempts, d.payload) for d in leased] == [("a", 1, b'{"dial_id":"a"}')]
    assert await queue.lease(10, 30, now=T0 + 1) == []
    await queue.ack([leased[0].id])
    assert await queue.lease(10, 30, now=T0 + 100) == []
    assert (await queue.stats(now=T0 + 100)).ready == 0


async def test_dedupe_within_window(queue: DialQueue) -> None:
    """The same (source, dial_id) is stored once inside the window, again after it."""
    assert await queue.enqueue(new("a"), 60)
    assert not await queue.enqueue(new("a", at=T0 + 30), 60)
    assert await queue.enqueue(new("a", source="other", at=T0 + 30), 60)
    assert await queue.enqueue(new("a", at=T0 + 61), 60)
    assert await queue.seen("crm", "a", now=T0 + 62)
    assert not await queue.seen("crm", "a", now=T0 + 200)
    assert not await queue.seen("crm", "zzz", now=T0)


async def test_dedupe_expiry_is_per_entry(queue: DialQueue) -> None:
    """A long-lived entry (backfill) outlives a short window used by later intake."""
    assert await queue.enqueue(new("b"), 10_000)
    assert not await queue.enqueue(new("b", at=T0 + 500), 60)


async def test_visibility_timeout_returns_dial(queue: DialQueue) -> None:
    """A leased dial that is never acked comes back after the visibility timeout."""
    # Real time, not T0: a Redis lease expires by the server's clock (idle time of the entry).
    await queue.enqueue(new("a", at=time.time()), 60)
    first = await queue.lease(1, VISIBILITY, now=time.time())
    assert await queue.lease(1, VISIBILITY, now=time.time()) == []
    await asyncio.sleep(VISIBILITY * 1.2)
    again = await queue.lease(1, VISIBILITY, now=time.time())
    assert [d.dial_id for d in again] == ["a"]
    assert again[0].attempts == first[0].attempts + 1


async def test_retry_schedules_later(queue: DialQueue) -> None:
    """A retried dial is not due before its time and is due after it."""
    await queue.enqueue(new("a"), 60)
    (d,) = await queue.lease(1, 30, now=T0)
    await queue.retry(queue_id=d.id, due_at=T0 + 10, error="http 500")
    assert await queue.lease(1, 30, now=T0 + 9) == []
    assert await queue.next_due() == pytest.approx(T0 + 10)
    stats = await queue.stats(now=T0 + 5)
    assert (stats.ready, stats.delayed, stats.leased) == (0, 1, 0)
    assert [x.dial_id for x in await queue.lease(1, 30, now=T0 + 10)] == ["a"]


async def test_order_and_lanes(queue: DialQueue) -> None:
    """Earliest first; the live lane drains before the backfill lane."""
    await queue.enqueue(new("backfill", at=T0 - 100, lane=1), 60)
    await queue.enqueue(new("late", at=T0 + 2), 60)
    await queue.enqueue(new("early", at=T0 + 1), 60)
    got = await queue.lease(10, 30, now=T0 + 5)
    assert [d.dial_id for d in got] == ["early", "late", "backfill"]


async def test_source_filters_and_horizon(queue: DialQueue) -> None:
    """Leases can exclude or select sources, and reach past `now` with a horizon."""
    await queue.enqueue(new("a", source="x"), 60)
    await queue.enqueue(new("b", source="y"), 60)
    assert [d.dial_id for d in await queue.lease(10, 30, now=T0, exclude_sources={"x"})] == ["b"]
    (a,) = await queue.lease(10, 30, now=T0, only_sources={"x"})
    await queue.retry(a.id, T0 + 1000, "later")
    assert await queue.lease(10, 30, now=T0 + 40, only_sources={"x"}) == []
    far = await queue.lease(10, 30, now=T0 + 40, only_sources={"x"}, horizon=T0 + 10**6)
    assert [d.dial_id for d in far] == ["a"]


async def test_release_and_release_delayed(queue: DialQueue) -> None:
    """Released leases are due at once; release_delayed makes waiting dials due now."""
    await queue.enqueue(new("a"), 60)
    await queue.enqueue(new("b", source="other"), 60)
    a, b = await queue.lease(2, 30, now=T0)
    await queue.release([a.id], now=T0 + 1)
    (again,) = await queue.lease(5, 30, now=T0 + 1)
    assert again.dial_id == "a" and again.attempts == 1  # a released lease is not an attempt
    await queue.retry(again.id, T0 + 5000, "x")
    await queue.retry(b.id, T0 + 5000, "x")
    assert await queue.release_delayed(now=T0 + 2, sources={"crm"}) == 1
    assert [d.dial_id for d in await queue.lease(5, 30, now=T0 + 2)] == ["a"]
    assert await queue.release_delayed(now=T0 + 3) == 1
    assert [d.dial_id for d in await queue.lease(5, 30, now=T0 + 3)] == ["b"]


async def test_delay_sources(queue: DialQueue) -> None:
    """A held source's waiting dials move to the probe time; others stay due."""
    await queue.enqueue(new("a", source="held"), 60)
    await queue.enqueue(new("b", source="fine"), 60)
    assert await queue.delay_sources({"held"}, T0 + 60) == 1
    assert [d.dial_id for d in await queue.lease(5, 300, now=T0 + 1)] == ["b"]
    assert [d.dial_id for d in await queue.lease(5, 300, now=T0 + 60)] == ["a"]


async def test_dead_letter_list_show_replay_purge(queue: DialQueue) -> None:
    """Dead letters keep status and body, filter, replay into the queue, and purge."""
    for i, src in enumerate(["crm", "crm", "other"]):
        await queue.enqueue(new(f"d{i}", source=src), 60)
    leased = await queue.lease(3, 30, now=T0)
    for d, status in zip(leased, [400, 422, 400], strict=True):
        await queue.dead_letter(
            d.id, reason=f"http_{status}", status=status, response_body='{"e":1}', now=T0 + 1
        )
    assert (await queue.stats(now=T0 + 2)).dead == 3
    assert {d.dial_id for d in await queue.list_dead(source="crm")} == {"d0", "d1"}
    assert {d.dial_id for d in await queue.list_dead(status=400)} == {"d0", "d2"}
    assert await queue.list_dead(before=T0) == []
    one = (await queue.list_dead(status=422))[0]
    shown = await queue.get_dead(one.id)
    assert shown is not None and shown.response_body == '{"e":1}' and shown.payload
    assert await queue.replay_dead([one.id], now=T0 + 3) == 1
    assert [d.dial_id for d in await queue.lease(5, 30, now=T0 + 3)] == ["d1"]
    rest = [d.id for d in await queue.list_dead()]
    assert await queue.purge_dead(rest) == 2
    assert await queue.list_dead() == []
    assert await queue.get_dead("nonexistent") is None


async def test_rejected_store(queue: DialQueue) -> None:
    """Rejected requests are kept raw, listed, shown and deleted."""
    rid = await queue.add_rejected(
        RejectedRecord(
            id="",
            source="crm",
            received_at=T0,
            method="POST",
            content_type="application/json",
            query={"a": "1"},
            body=b'{"x":1}',
            problems=[{"field": "ani", "problem": "required"}],
        )
    )
    (listed,) = await queue.list_rejected(source="crm")
    assert listed.id == rid and listed.body == b'{"x":1}' and listed.query == {"a": "1"}
    assert listed.problems == [{"field": "ani", "problem": "required"}]
    assert await queue.list_rejected(source="other") == []
    assert await queue.delete_rejected([rid]) == 1
    assert await queue.get_rejected(rid) is None


async def test_stats_counts_and_oldest(queue: DialQueue) -> None:
    """Stats count ready, delayed and leased dials and report the oldest."""
    await queue.enqueue(new("a", at=T0), 60)
    await queue.enqueue(new("b", at=T0 + 1), 60)
    await queue.enqueue(new("c", at=T0 + 2), 60)
    assert len(await queue.lease(1, 30, now=T0 + 3)) == 1
    stats = await queue.stats(now=T0 + 3)
    assert (stats.ready, stats.leased) == (2, 1)
    assert stats.oldest_received_at == pytest.approx(T0)
    assert stats.by_source == {"crm": 3}


async def test_survives_reopen(queue_factory: Callable[[], DialQueue]) -> None:
    """What was stored is there after the queue is closed and opened again."""
    q = queue_factory()
    await q.open()
    await q.enqueue(new("a", at=time.time()), 60)
    await q.close()
    q2 = queue_factory()
    await q2.open()
    try:
        assert [d.dial_id for d in await q2.lease(5, 30, now=time.time() + 1)] == ["a"]
    finally:
        await q2.close()


async def test_kind_and_replace_payload(queue: DialQueue) -> None:
    """A mapping job keeps its kind through lease, and can be swapped for the resolved dial."""
    job = NewDial(
        source="gen",
        dial_id="conv-1",
        payload=b'{"conversationId":"conv-1"}',
        received_at=T0,
        kind="genesys.resolve",
    )
    assert await queue.enqueue(job, 60)
    (leased,) = await queue.lease(1, 30, now=T0)
    assert leased.kind == "genesys.resolve"
    await queue.replace_payload(leased.id, b'{"dial_id":"conv-1"}', "dial")
    await queue.retry(leased.id, T0 + 1, "resolved; POST failed")
    (again,) = await queue.lease(1, 30, now=T0 + 1)
    assert (again.kind, again.payload) == ("dial", b'{"dial_id":"conv-1"}')
