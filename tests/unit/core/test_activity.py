"""``source_activity`` and the flusher on each queue backend: stored counts plus this
process's pending ones, hour and day windows, failed writes kept for the next flush."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relay.core.activity import Activity, ActivityFlusher, flush_activity, source_activity
from relay.exceptions import QueueUnavailable
from relay.obs.tally import CountRow, OutcomeTally
from relay.queue.base import DialQueue
from relay.queue.sqlite import SqliteQueue

pytestmark = pytest.mark.anyio

NOW = 1_800_000_030.0  # half a minute into the minute 1_800_000_000


async def test_activity_is_stored_counts_plus_pending_ones(store: DialQueue) -> None:
    minute = 1_800_000_000
    await store.add_activity(
        [
            CountRow(minute, "crm", "queued", 2),  # this minute: hour and day
            CountRow(minute - 59 * 60, "crm", "queued", 1),  # the hour's first minute
            CountRow(minute - 60 * 60, "crm", "queued", 4),  # the day only
            CountRow(minute - 1439 * 60, "crm", "delivered", 8),  # the day's first minute
            CountRow(minute - 1440 * 60, "crm", "delivered", 16),  # neither
        ],
        {"crm": NOW - 100},
    )
    tally = OutcomeTally()
    tally.count("crm", "queued")
    tally.count("_unknown", "unknown_source")
    tally.webhook("other", NOW - 5)
    tally.webhook("crm", NOW - 200)  # older than the stored one: the stored one shows
    assert await source_activity(store, tally, now=NOW) == Activity(
        hour={"crm": {"queued": 4}, "_unknown": {"unknown_source": 1}},
        day={"crm": {"queued": 8, "delivered": 8}, "_unknown": {"unknown_source": 1}},
        last_webhook={"crm": NOW - 100, "other": NOW - 5},
    )


async def test_a_flush_moves_counts_from_pending_to_stored_once(store: DialQueue) -> None:
    tally = OutcomeTally()
    for _ in range(3):
        tally.count("crm", "delivered")
    tally.webhook("crm", NOW - 1)
    before = await source_activity(store, tally, now=NOW)
    assert await flush_activity(store, tally, now=NOW) == 1
    assert tally.pending(now=NOW) == []
    assert await source_activity(store, tally, now=NOW) == before
    assert before.hour == {"crm": {"delivered": 3}}
    assert await store.last_webhooks() == {"crm": NOW - 1}
    assert await flush_activity(store, tally, now=NOW) == 0  # nothing new: no write


async def test_a_failed_flush_keeps_the_counts_for_the_next_one(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db")  # not open yet: every write fails
    tally = OutcomeTally()
    tally.count("crm", "queued")
    tally.webhook("crm", NOW)
    flusher = ActivityFlusher(queue, tally, clock=lambda: NOW)
    with capture_logs() as logs:
        await flusher.flush()
        tally.count("crm", "queued")
        await flusher.flush()  # still failing: logged once
        await queue.open()
        try:
            await flusher.flush()
            assert await queue.activity(since=NOW - 60, until=NOW + 60) == {("crm", "queued"): 2}
            assert await queue.last_webhooks() == {"crm": NOW}
        finally:
            await queue.close()
    assert [e["event"] for e in logs] == ["activity_flush_failed", "activity_flush_recovered"]
    assert tally.pending(now=NOW) == []


async def test_flush_activity_raises_and_gives_the_rows_back(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    tally = OutcomeTally()
    tally.count("crm", "queued")
    with pytest.raises(QueueUnavailable):
        await flush_activity(queue, tally, now=NOW)
    assert tally.pending(now=NOW) == [CountRow(1_800_000_000, "crm", "queued", 1)]


async def test_the_flusher_flushes_once_more_when_stopped(store: DialQueue) -> None:
    tally = OutcomeTally()
    flusher = ActivityFlusher(store, tally, every=3600, clock=lambda: NOW)
    task = asyncio.create_task(flusher.run())
    tally.count("crm", "dead_lettered")
    flusher.stop()
    await task
    assert await store.activity(since=NOW - 60, until=NOW + 60) == {("crm", "dead_lettered"): 1}
