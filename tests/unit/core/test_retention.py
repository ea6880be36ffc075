"""Retention on each queue backend: the rejected store's limits (``RejectedRetention``) and
how long dial history is kept (``HistoryRetention``)."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from relay.core.retention import HistoryRetention, RejectedRetention
from relay.queue.base import Attempt, DialQueue, NewDial, RejectedRecord, RejectedTrim
from relay.queue.history import TRIM_BATCH

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


def record(at: float) -> RejectedRecord:
    return RejectedRecord("", "crm", at, "POST", "application/json", {}, b"{}", [])


async def test_trim_counts_and_logs_each_reason(store: DialQueue) -> None:
    """Too old and over the cap are dropped, each reason counted and logged once."""
    drops: list[tuple[str, int]] = []
    retention = RejectedRetention(
        store,
        max_age_seconds=86400,
        max_records=2,
        dropped=lambda reason, n: drops.append((reason, n)),
        clock=lambda: NOW,
    )
    for age in (3 * 86400, 2 * 86400, 30, 20, 10):
        await store.add_rejected(record(NOW - age))
    with capture_logs() as logs:
        assert await retention.trim() == RejectedTrim(age=2, count=1)
        assert await retention.trim() == RejectedTrim()
    assert drops == [("age", 2), ("count", 1)]
    assert [(e["event"], e["reason"], e["records"], e["log_level"]) for e in logs] == [
        ("rejected_dropped", "age", 2, "warning"),
        ("rejected_dropped", "count", 1, "warning"),
    ]
    assert [r.received_at for r in await store.list_rejected()] == [NOW - 20, NOW - 10]


async def test_kept_applies_the_cap_however_fast_requests_come(store: DialQueue) -> None:
    """Requests kept faster than a trim runs are all covered: the store ends at the cap."""
    drops: list[int] = []
    retention = RejectedRetention(
        store, max_age_seconds=0, max_records=3, dropped=lambda _r, n: drops.append(n)
    )
    for i in range(12):
        await store.add_rejected(record(NOW + i))
        retention.kept()
    async with asyncio.timeout(10):  # a bound on a broken trim, not a speed check
        while len(await store.list_rejected()) > 3 or sum(drops) < 9:
            await asyncio.sleep(0.01)
    await retention.close()
    assert sum(drops) == 9
    assert [r.received_at for r in await store.list_rejected()] == [NOW + 9, NOW + 10, NOW + 11]


async def test_no_limits_means_nothing_is_touched(store: DialQueue) -> None:
    """Both limits at 0 turn retention off: trim, kept() and sweep do nothing."""
    retention = RejectedRetention(store, max_age_seconds=0, max_records=0, dropped=print)
    await store.add_rejected(record(0.0))
    assert await retention.trim() == RejectedTrim()
    retention.kept()
    await retention.sweep(every=0)  # returns at once when disabled
    assert len(await store.list_rejected()) == 1


async def _delivered(store: DialQueue, dial_id: str, at: float) -> None:
    """Store ``dial_id`` and deliver it at ``at``."""
    await store.enqueue(NewDial("crm", dial_id, b'{"dial_id":"%s"}' % dial_id.encode(), at), 60)
    (leased,) = await store.lease(1, 30, now=at)
    await store.ack([leased.id], attempts={leased.id: Attempt(at, 1, 200)})


async def test_history_is_kept_for_its_retention_after_the_dial_settled(store: DialQueue) -> None:
    """A delivered dial's history goes once the retention has passed since it was delivered;
    a dial still in the queue, or in the dead-letter store, keeps its history."""
    day = 86400.0
    await _delivered(store, "old", NOW - 8 * day)
    await _delivered(store, "recent", NOW - 6 * day)
    await store.enqueue(NewDial("crm", "refused", b"{}", NOW - 30 * day), 60)
    await store.enqueue(NewDial("crm", "waiting", b"{}", NOW - 30 * day), 60)
    (refused,) = await store.lease(1, 30, now=NOW - 30 * day, only_sources={"crm"})
    assert refused.dial_id == "refused"  # the first stored: it goes to the DLQ
    await store.dead_letter(refused.id, reason="http_400", status=400, response_body="", now=NOW)
    retention = HistoryRetention(store, seconds=7 * day, clock=lambda: NOW)
    assert await retention.trim() == 1
    assert await retention.trim() == 0
    left = {r.dial_id: r.state for r in await store.list_history()}
    assert left == {"recent": "delivered", "refused": "dead", "waiting": "queued"}
    later = HistoryRetention(store, seconds=7 * day, clock=lambda: NOW + 2 * day)
    assert await later.trim() == 1
    assert {r.dial_id for r in await store.list_history()} == {"waiting", "refused"}


async def test_history_retention_works_in_batches(store: DialQueue) -> None:
    """More settled records than one trim call drops all go in one pass, batch by batch."""
    for i in range(TRIM_BATCH + 5):
        await store.enqueue(NewDial("crm", f"b{i}", b"{}", NOW), 60)
    while leased := await store.lease(500, 30, now=NOW):
        await store.ack(
            [d.id for d in leased], attempts={d.id: Attempt(NOW, 1, 200) for d in leased}
        )
    assert (
        await HistoryRetention(store, seconds=60, clock=lambda: NOW + 61).trim() == TRIM_BATCH + 5
    )
    assert await store.list_history() == []


async def test_history_off_drops_what_has_settled(store: DialQueue) -> None:
    """A retention of 0 (history off) drops every settled record at the next pass."""
    await _delivered(store, "done", NOW)
    assert await HistoryRetention(store, seconds=0, clock=lambda: NOW + 0.001).trim() == 1
    assert await store.dial_history("done") == []
