"""The rejected store's limits, applied by ``RejectedRetention`` on each queue backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relay.core.retention import RejectedRetention
from relay.queue.base import DialQueue, RejectedRecord, RejectedTrim
from relay.queue.redis import RedisStreamQueue
from relay.queue.sqlite import SqliteQueue
from tests.support.redis import REDIS_URL, unique_prefix

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DialQueue]:
    with unique_prefix(tmp_path) as prefix:
        queue: DialQueue = (
            SqliteQueue(tmp_path / "q.db")
            if request.param == "sqlite"
            else RedisStreamQueue(REDIS_URL, prefix=prefix, consumer="t", block_seconds=0)
        )
        await queue.open()
        yield queue
        await queue.close()


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
