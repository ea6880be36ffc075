"""Ack batching: many deliveries finishing together cost one queue operation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from relay.delivery.batching import AckBatcher
from relay.exceptions import QueueError
from relay.queue.base import Attempt, NewDial
from relay.queue.sqlite import SqliteQueue

pytestmark = pytest.mark.anyio


class CountingQueue(SqliteQueue):
    """The real SQLite queue, counting ``ack`` calls."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.ack_calls: list[list[str]] = []

    async def ack(
        self, ids: Sequence[str], *, attempts: Mapping[str, Attempt] | None = None
    ) -> None:
        self.ack_calls.append(list(ids))
        await super().ack(ids, attempts=attempts)


async def _fill(queue: SqliteQueue, n: int) -> list[str]:
    now = time.time()
    for i in range(n):
        await queue.enqueue(NewDial("crm", f"d-{i}", b"{}", received_at=now), 3600)
    return [d.id for d in await queue.lease(n, 60, now=now)]


async def test_concurrent_acks_share_one_commit(tmp_path: Path) -> None:
    """Acks made in the same turn go in one queue.ack, and each caller returns after it."""
    queue = CountingQueue(tmp_path / "q.db")
    await queue.open()
    try:
        ids = await _fill(queue, 50)
        batcher = AckBatcher(queue)
        await asyncio.gather(*(batcher.ack(i) for i in ids))
        assert len(queue.ack_calls) == 1 and sorted(queue.ack_calls[0]) == sorted(ids)
        stats = await queue.stats(now=time.time())
        assert stats.ready + stats.delayed + stats.leased == 0
    finally:
        await queue.close()


async def test_acks_during_a_flush_go_in_the_next_round(tmp_path: Path) -> None:
    """An ack arriving while a flush commits is not lost: it is committed in the next round."""
    queue = CountingQueue(tmp_path / "q.db")
    await queue.open()
    try:
        first, second = await _fill(queue, 2)
        batcher = AckBatcher(queue)
        task = asyncio.create_task(batcher.ack(first))
        await asyncio.sleep(0.001)  # the first flush is under way
        await asyncio.gather(task, batcher.ack(second))
        assert [sorted(c) for c in queue.ack_calls] == [[first], [second]]
    finally:
        await queue.close()


async def test_a_failed_flush_raises_in_every_caller(tmp_path: Path) -> None:
    """When the queue cannot ack, each caller of the batch gets the QueueError."""
    queue = CountingQueue(tmp_path / "q.db")
    await queue.open()
    ids = await _fill(queue, 3)
    await queue.close()  # the queue is now unavailable
    batcher = AckBatcher(queue)
    results = await asyncio.gather(*(batcher.ack(i) for i in ids), return_exceptions=True)
    assert all(isinstance(r, QueueError) for r in results)


async def test_a_cancelled_caller_cancels_only_its_own_wait(tmp_path: Path) -> None:
    """A delivery cancelled while its ack commits (a shutdown, a timeout around it) stops
    waiting; the flush and every other caller of the round go on, and its dial is acked."""
    queue = CountingQueue(tmp_path / "q.db")
    await queue.open()
    try:
        ids = await _fill(queue, 3)
        batcher = AckBatcher(queue)
        tasks = [asyncio.create_task(batcher.ack(i)) for i in ids]
        await asyncio.sleep(0)  # every ack joined the round
        tasks[0].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert results[1:] == [None, None]
        assert [sorted(c) for c in queue.ack_calls] == [sorted(ids)]
        stats = await queue.stats(now=time.time())
        assert stats.ready + stats.delayed + stats.leased == 0
    finally:
        await queue.close()
