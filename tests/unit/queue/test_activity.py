"""``ActivityStore`` on both backends: minute buckets summed over replicas, ranges, the latest
last-webhook time, retention, restart survival, read-only opens."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis

from relay.exceptions import QueueUnavailable
from relay.obs.tally import ACTIVITY_KEEP_SECONDS, CountRow
from relay.queue.base import DialQueue, ReadOnlyOpen, ReplicaDirectory
from relay.queue.redis import RedisStreamQueue
from relay.queue.sqlite import SqliteQueue
from relay.queue.sqlite.activity import TRIM_BATCH
from tests.support.redis import REDIS_URL, drop_prefix, prefix_for

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000  # a multiple of 60
MakeQueue = Callable[..., Awaitable[DialQueue]]


@pytest.fixture
async def make(queue_factory: Callable[[], DialQueue]) -> AsyncIterator[MakeQueue]:
    """Opens queues of one backend on one store: each one a replica (or a restart)."""
    opened: list[DialQueue] = []

    async def factory(*, read_only: bool = False) -> DialQueue:
        queue = queue_factory()
        if read_only:
            assert isinstance(queue, ReadOnlyOpen)
            await queue.open_read_only()
        else:
            await queue.open()
        opened.append(queue)
        return queue

    yield factory
    for queue in opened:
        await queue.close()


def row(minute: int, source: str, outcome: str, count: int = 1) -> CountRow:
    return CountRow(minute, source, outcome, count)


async def test_counts_add_up_per_source_and_outcome_within_the_range(make: MakeQueue) -> None:
    queue = await make()
    await queue.add_activity(
        [row(T0, "crm", "queued", 2), row(T0 + 60, "crm", "queued"), row(T0, "x", "delivered")],
        {},
    )
    await queue.add_activity([row(T0 + 60, "crm", "queued", 4), row(T0 + 120, "crm", "queued")], {})
    assert await queue.activity(since=T0, until=T0 + 180) == {
        ("crm", "queued"): 8,
        ("x", "delivered"): 1,
    }
    # buckets that START in [since, until): T0 + 60 and nothing else
    assert await queue.activity(since=T0 + 1, until=T0 + 61) == {("crm", "queued"): 5}
    assert await queue.activity(since=T0 + 60, until=T0 + 120) == {("crm", "queued"): 5}
    assert await queue.activity(since=T0 + 180, until=T0 + 3600) == {}


async def test_two_replicas_on_one_store_sum_their_counts(make: MakeQueue) -> None:
    a, b = await make(), await make()
    await a.add_activity([row(T0, "crm", "queued", 3)], {"crm": T0 + 1.5})
    await b.add_activity([row(T0, "crm", "queued", 4), row(T0, "crm", "retried")], {"crm": T0 + 1})
    for queue in (a, b):
        assert await queue.activity(since=T0, until=T0 + 60) == {
            ("crm", "queued"): 7,
            ("crm", "retried"): 1,
        }
        assert await queue.last_webhooks() == {"crm": T0 + 1.5}  # the later one stays


async def test_last_webhook_times_only_move_forward(make: MakeQueue) -> None:
    queue = await make()
    await queue.add_activity([], {"crm": T0 + 10.25, "other": T0 + 1})
    await queue.add_activity([], {"crm": T0 + 5})
    await queue.add_activity([], {"other": T0 + 2})
    assert await queue.last_webhooks() == {"crm": T0 + 10.25, "other": T0 + 2}


async def test_counts_survive_a_restart(make: MakeQueue) -> None:
    first = await make()
    await first.add_activity([row(T0, "crm", "queued", 3)], {"crm": T0 + 2})
    await first.close()
    again = await make()
    assert await again.activity(since=T0, until=T0 + 60) == {("crm", "queued"): 3}
    assert await again.last_webhooks() == {"crm": T0 + 2}


async def test_read_only_open_reads_and_refuses_writes(make: MakeQueue) -> None:
    writer = await make()
    await writer.add_activity([row(T0, "crm", "queued")], {"crm": T0 + 2})
    reader = await make(read_only=True)
    assert await reader.activity(since=T0, until=T0 + 60) == {("crm", "queued"): 1}
    assert await reader.last_webhooks() == {"crm": T0 + 2}
    with pytest.raises(QueueUnavailable):
        await reader.add_activity([row(T0, "crm", "queued")], {})


async def test_an_empty_write_writes_nothing(make: MakeQueue) -> None:
    queue = await make()
    await queue.add_activity([], {})
    assert await queue.activity(since=0, until=T0 * 2) == {}
    assert await queue.last_webhooks() == {}


async def test_a_read_from_long_ago_returns_what_is_kept(make: MakeQueue) -> None:
    queue = await make()
    await queue.add_activity([row(T0, "crm", "queued")], {})
    assert await queue.activity(since=0, until=T0 + 60) == {("crm", "queued"): 1}


# --- retention, per backend ---------------------------------------------------------------


async def test_sqlite_trims_buckets_past_the_retention_as_it_writes(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    await queue.open()
    try:
        old = [row(T0 + 60 * i, f"s{j}", "queued") for i in range(3) for j in range(500)]
        await queue.add_activity(old, {})
        late = T0 + ACTIVITY_KEEP_SECONDS + 120  # the first two minutes are past it now
        await queue.add_activity([row(late, "crm", "queued")], {})
        with sqlite3.connect(tmp_path / "q.db") as c:
            left = c.execute("SELECT count(*) FROM activity WHERE minute < ?", (T0 + 120,))
            assert left.fetchone()[0] == 1000 - TRIM_BATCH  # bounded: one batch per write
        await queue.add_activity([row(late, "crm", "queued")], {})
        assert await queue.activity(since=T0, until=T0 + 120) == {}
        assert await queue.activity(since=T0 + 120, until=T0 + 180) == {
            (f"s{j}", "queued"): 1 for j in range(500)
        }
    finally:
        await queue.close()


async def test_sqlite_read_only_file_of_an_older_relay_has_no_activity(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE dials (id INTEGER PRIMARY KEY)")
    queue = SqliteQueue(path, read_only=True)
    await queue.open()
    try:
        assert await queue.activity(since=T0, until=T0 + 60) == {}
        assert await queue.last_webhooks() == {}
    finally:
        await queue.close()


@pytest.mark.redis
async def test_redis_minute_hashes_expire_after_the_retention(tmp_path: Path) -> None:
    prefix = prefix_for(tmp_path)
    queue = RedisStreamQueue(REDIS_URL, prefix=prefix, consumer="a", block_seconds=0)
    await queue.open()
    try:
        now = int(_redis_time()) // 60 * 60
        await queue.add_activity([row(now, "crm", "queued"), row(now - 600, "crm", "x")], {})
        with redis.Redis.from_url(REDIS_URL) as client:
            key = "{" + prefix + "}:activity:" + str(now)
            assert client.hgetall(key) == {b"queued:crm": b"1"}
            assert client.expiretime(key) == now + ACTIVITY_KEEP_SECONDS
            assert client.expiretime(key.replace(str(now), str(now - 600))) == (
                now - 600 + ACTIVITY_KEEP_SECONDS
            )
            assert client.ttl("{" + prefix + "}:last_webhook") == -2  # none written
        # a bucket older than the retention is gone at once
        await queue.add_activity([row(now - ACTIVITY_KEEP_SECONDS - 60, "crm", "old")], {})
        assert await queue.activity(since=now - 2 * 86400, until=now + 60) == {
            ("crm", "queued"): 1,
            ("crm", "x"): 1,
        }
    finally:
        await queue.close()
        drop_prefix(prefix)


def _redis_time() -> float:
    with redis.Redis.from_url(REDIS_URL) as client:
        seconds, micros = client.time()
        return seconds + micros / 1e6


async def test_replicas_announce_themselves_and_silent_ones_are_forgotten(
    make: MakeQueue,
) -> None:
    a, b = await make(), await make()
    if not isinstance(a, ReplicaDirectory):
        assert isinstance(a, SqliteQueue)  # one process: nothing to list
        return
    assert isinstance(b, ReplicaDirectory)
    await a.beat("old", now=T0 - 90_000)
    await a.beat("a", now=T0)
    await b.beat("b", now=T0 + 5)
    await b.beat("b", now=T0 + 10)
    assert await a.replicas(since=T0 - 100_000) == {"a": T0, "b": T0 + 10}  # "old" forgotten
    assert await b.replicas(since=T0 + 1) == {"b": T0 + 10}
    reader = await make(read_only=True)
    assert isinstance(reader, ReplicaDirectory)
    with pytest.raises(QueueUnavailable):
        await reader.beat("c", now=T0)
