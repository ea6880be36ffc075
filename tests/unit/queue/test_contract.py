"""The queue contract: the semantics every backend must have (run against each backend)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest

from relay.exceptions import QueueUnavailable
from relay.queue.base import DialQueue, NewDial, ReadOnlyOpen, RejectedRecord, RejectedTrim

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


def rejected(source: str = "crm", at: float = T0) -> RejectedRecord:
    return RejectedRecord("", source, at, "POST", "application/json", {}, b"{}", [])


async def test_rejected_listing_filters_by_age(queue: DialQueue) -> None:
    """`before` lists only what was received earlier (what `rejected purge --older-than` takes)."""
    ids = [await queue.add_rejected(rejected(at=T0 + i)) for i in range(4)]
    assert [r.id for r in await queue.list_rejected(before=T0 + 2)] == ids[:2]
    assert [r.id for r in await queue.list_rejected(source="crm", before=T0 + 9)] == ids
    assert await queue.list_rejected(source="other", before=T0 + 9) == []


async def test_rejected_and_dead_can_be_listed_newest_first(queue: DialQueue) -> None:
    """What the console shows first: the latest records, within the limit."""
    ids = [await queue.add_rejected(rejected(at=T0 + i)) for i in range(5)]
    newest = await queue.list_rejected(limit=3, newest_first=True)
    assert [r.id for r in newest] == ids[::-1][:3]
    assert [r.id for r in await queue.list_rejected(limit=3)] == ids[:3]
    for i in range(4):
        await queue.enqueue(new(f"n{i}"), 60)
    for n, d in enumerate(await queue.lease(4, 30, now=T0)):
        await queue.dead_letter(d.id, reason="http_400", status=400, response_body="", now=T0 + n)
    oldest_first = [d.dial_id for d in await queue.list_dead()]
    assert [d.dial_id for d in await queue.list_dead(limit=2, newest_first=True)] == (
        oldest_first[::-1][:2]
    )


async def test_trim_rejected_by_age_then_count(queue: DialQueue) -> None:
    """Trim drops what was received before `before`, then the oldest beyond the newest
    `keep`, and says how many went for each reason."""
    ids = [await queue.add_rejected(rejected(at=T0 + i)) for i in range(6)]
    assert await queue.trim_rejected(before=None, keep=None) == RejectedTrim(age=0, count=0)
    assert await queue.trim_rejected(before=T0 + 1, keep=None) == RejectedTrim(age=1, count=0)
    assert await queue.trim_rejected(before=T0, keep=3) == RejectedTrim(age=0, count=2)
    assert [r.id for r in await queue.list_rejected()] == ids[3:]
    assert await queue.trim_rejected(before=T0 + 4, keep=1) == RejectedTrim(age=1, count=1)
    assert [r.id for r in await queue.list_rejected()] == ids[5:]
    assert (await queue.stats(now=T0)).rejected == 1
    assert await queue.trim_rejected(before=T0 + 4, keep=1) == RejectedTrim(age=0, count=0)


async def test_trim_rejected_counts_only_what_existed(queue: DialQueue) -> None:
    """Records purged meanwhile are not counted as dropped; keep=0 empties the store."""
    ids = [await queue.add_rejected(rejected(at=T0 + i)) for i in range(3)]
    assert await queue.delete_rejected(ids[:1]) == 1
    assert await queue.trim_rejected(before=None, keep=0) == RejectedTrim(age=0, count=2)
    assert await queue.list_rejected() == []


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


# --- legs of one call (coalesce) ---------------------------------------------------------
WINDOW = 60.0
FOREVER = 1e18


def leg(name: str, at: float, dial_id: str = "call", source: str = "crm") -> NewDial:
    """A leg whose payload is the JSON list of the legs it holds."""
    return NewDial(source=source, dial_id=dial_id, payload=orjson.dumps([name]), received_at=at)


def union(stored: bytes, new_leg: bytes) -> bytes:
    """A merge that keeps every leg it was given (order: as merged)."""
    held: list[str] = orjson.loads(stored)
    return orjson.dumps(held + [n for n in orjson.loads(new_leg) if n not in held])


async def coalesce(queue: DialQueue, dial: NewDial, dedupe: float = 3600) -> str:
    return await queue.coalesce(dial, dedupe, window=WINDOW, merge=union)


async def test_coalesce_holds_the_first_leg_and_merges_later_ones(queue: DialQueue) -> None:
    """The first leg is held for the window, later legs in it merge, then it is sent once and
    a leg after the window is a duplicate."""
    assert await coalesce(queue, leg("first", T0)) == "queued"
    assert await coalesce(queue, leg("second", T0 + 30)) == "coalesced"
    assert await coalesce(queue, leg("third", T0 + 59.5)) == "coalesced"
    assert await queue.lease(5, 30, now=T0 + 59.9) == []
    assert await queue.next_due() == pytest.approx(T0 + WINDOW)
    assert not await queue.enqueue(leg("live", T0 + 40), 3600)  # one dedupe for both
    (sent,) = await queue.lease(5, 30, now=T0 + WINDOW)
    assert orjson.loads(sent.payload) == ["first", "second", "third"]
    assert await coalesce(queue, leg("late", T0 + 61)) == "duplicate"
    await queue.ack([sent.id])
    assert await coalesce(queue, leg("later", T0 + 100)) == "duplicate"
    assert await queue.lease(5, 30, now=T0 + 1000) == []


async def test_coalesce_is_per_source_and_id(queue: DialQueue) -> None:
    """Legs of other calls, or of the same id from another source, are calls of their own."""
    assert await coalesce(queue, leg("a", T0)) == "queued"
    assert await coalesce(queue, leg("b", T0 + 1, dial_id="other")) == "queued"
    assert await coalesce(queue, leg("c", T0 + 1, source="elsewhere")) == "queued"
    got = await queue.lease(5, 30, now=T0 + WINDOW + 1)
    assert sorted(orjson.loads(d.payload)[0] for d in got) == ["a", "b", "c"]


async def test_an_enqueued_dial_is_not_a_held_leg(queue: DialQueue) -> None:
    """A dial stored by enqueue (a backfill) makes a later leg a duplicate, not a merge."""
    assert await queue.enqueue(leg("backfilled", T0), 3600)
    assert await coalesce(queue, leg("live", T0 + 1)) == "duplicate"
    (only,) = await queue.lease(5, 30, now=T0 + 1)
    assert orjson.loads(only.payload) == ["backfilled"]


async def test_the_window_is_remembered_without_dedupe(queue: DialQueue) -> None:
    """With dedupe off, a leg within the window still merges (the id is kept for the window)."""
    assert await coalesce(queue, leg("first", T0), dedupe=0) == "queued"
    assert await coalesce(queue, leg("second", T0 + 30), dedupe=0) == "coalesced"
    (sent,) = await queue.lease(5, 30, now=T0 + WINDOW)
    assert orjson.loads(sent.payload) == ["first", "second"]


async def test_a_held_leg_is_never_sent_early(queue: DialQueue) -> None:
    """Neither a probe's horizon nor release_delayed (circuit closed, key lifted) takes a held
    leg before its window ends; a key hold can only push it later."""
    assert await coalesce(queue, leg("held", T0)) == "queued"
    now = T0 + 1
    assert await queue.lease(1, 30, now=now, only_sources={"crm"}, horizon=FOREVER) == []
    assert await queue.lease(1, 30, now=now, exclude_sources={"x"}, horizon=FOREVER) == []
    assert await queue.release_delayed(now=now) == 0
    assert await queue.release_delayed(now=now, sources={"crm"}) == 0
    assert await queue.lease(5, 30, now=now) == []
    assert await queue.enqueue(new("plain", at=now), 3600)  # a probe still finds other dials
    (probe,) = await queue.lease(1, 30, now=now, only_sources={"crm"}, horizon=FOREVER)
    assert probe.dial_id == "plain"
    await queue.ack([probe.id])
    assert await queue.delay_sources({"crm"}, T0 + 300) == 1
    assert await queue.lease(5, 30, now=T0 + WINDOW) == []  # the key hold keeps it
    assert await queue.release_delayed(now=T0 + 10, sources={"crm"}) == 0
    assert await queue.lease(5, 30, now=T0 + 59) == []  # lifted: due at its window's end
    (sent,) = await queue.lease(5, 30, now=T0 + WINDOW)
    assert sent.dial_id == "call"


async def test_a_leased_held_dial_takes_no_more_legs(queue: DialQueue) -> None:
    """Once the dial is leased for sending, a leg stamped inside the window (another replica's
    clock) is a duplicate: a payload being sent is never changed."""
    assert await coalesce(queue, leg("first", T0)) == "queued"
    (sent,) = await queue.lease(5, 30, now=T0 + WINDOW)
    assert await coalesce(queue, leg("skewed", T0 + WINDOW - 1)) == "duplicate"
    await queue.retry(sent.id, T0 + WINDOW + 5, "http 503")
    (again,) = await queue.lease(5, 30, now=T0 + WINDOW + 5)
    assert orjson.loads(again.payload) == ["first"]


async def test_concurrent_legs_on_two_replicas_all_merge(
    queue_factory: Callable[[], DialQueue],
) -> None:
    """Legs arriving at once on two queue clients (two replicas) all end up in the one dial."""
    replicas = [queue_factory(), queue_factory()]
    for replica in replicas:
        await replica.open()
    try:
        names = [f"leg-{i}" for i in range(12)]
        outcomes = await asyncio.gather(
            *(coalesce(replicas[i % 2], leg(n, T0 + 1)) for i, n in enumerate(names))
        )
        assert sorted(outcomes) == ["coalesced"] * 11 + ["queued"]
        (sent,) = await replicas[0].lease(5, 30, now=T0 + WINDOW + 1)
        assert sorted(orjson.loads(sent.payload)) == sorted(names)
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_held_leg_survives_reopen(queue_factory: Callable[[], DialQueue]) -> None:
    """After a restart the held dial is neither sent early nor closed to its later legs."""
    q = queue_factory()
    await q.open()
    assert await coalesce(q, leg("first", T0)) == "queued"
    await q.close()
    q2 = queue_factory()
    await q2.open()
    try:
        assert await q2.lease(5, 30, now=T0 + 1) == []
        assert await coalesce(q2, leg("second", T0 + 2)) == "coalesced"
        (sent,) = await q2.lease(5, 30, now=T0 + WINDOW)
        assert orjson.loads(sent.payload) == ["first", "second"]
    finally:
        await q2.close()


async def test_read_only_opening_reads_and_refuses_writes(
    queue: DialQueue, queue_factory: Callable[[], DialQueue]
) -> None:
    """A second handle opened read-only sees what the first stored (dedupe entries, stats)
    and refuses to store anything."""
    assert await queue.enqueue(new("a"), 3600)
    reader = queue_factory()
    assert isinstance(reader, ReadOnlyOpen)
    await reader.open_read_only()
    try:
        assert await reader.seen("crm", "a", now=T0)
        assert not await reader.seen("crm", "b", now=T0)
        assert (await reader.stats(now=T0)).ready == 1
        with pytest.raises(QueueUnavailable):
            await reader.enqueue(new("b"), 3600)
    finally:
        await reader.close()
    assert not await queue.seen("crm", "b", now=T0)
