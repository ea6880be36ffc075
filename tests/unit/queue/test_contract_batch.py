"""The queue contract for a batch (``enqueue_many``), run against each backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from relay.exceptions import QueueUnavailable
from relay.queue.base import DialQueue, NewDial

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0


def new(dial_id: str, source: str = "connect", at: float = T0, payload: str = "") -> NewDial:
    body = payload or dial_id
    return NewDial(source=source, dial_id=dial_id, payload=body.encode(), received_at=at)


async def test_a_batch_is_stored_with_one_answer_per_dial(queue: DialQueue) -> None:
    """Each new dial is stored; a repeat inside the batch and an id known before are not."""
    assert await queue.enqueue(new("known"), 3600)
    batch = [new("a", payload="a-1"), new("known"), new("b"), new("a", payload="a-2")]
    assert await queue.enqueue_many(batch, 3600) == [True, False, True, False]
    leased = await queue.lease(10, 30, now=T0)
    assert sorted((d.dial_id, d.payload) for d in leased) == [
        ("a", b"a-1"),
        ("b", b"b"),
        ("known", b"known"),
    ]
    assert await queue.seen("connect", "b", now=T0 + 1)
    assert (await queue.stats(now=T0)).leased == 3


async def test_a_batch_sent_again_is_all_duplicates(queue: DialQueue) -> None:
    """A retried delivery (Firehose sends a batch again) stores nothing the second time."""
    batch = [new(f"c-{i}") for i in range(300)]
    assert await queue.enqueue_many(batch, 3600) == [True] * 300
    assert await queue.enqueue_many(batch, 3600) == [False] * 300
    assert len(await queue.lease(1000, 30, now=T0)) == 300


async def test_a_batch_dedupes_per_source_and_window(queue: DialQueue) -> None:
    assert await queue.enqueue_many([new("a"), new("a", source="other")], 60) == [True, True]
    assert await queue.enqueue_many([new("a", at=T0 + 30)], 60) == [False]
    assert await queue.enqueue_many([new("a", at=T0 + 61)], 60) == [True]


async def test_an_empty_batch_stores_nothing(queue: DialQueue) -> None:
    assert await queue.enqueue_many([], 3600) == []
    assert await queue.next_due() is None


async def test_a_batch_survives_reopen(queue_factory: Callable[[], DialQueue]) -> None:
    """Answered means durable: the whole batch is there after the queue is reopened."""
    first = queue_factory()
    await first.open()
    await first.enqueue_many([new("x"), new("y")], 3600)
    await first.close()
    again = queue_factory()
    await again.open()
    try:
        assert sorted(d.dial_id for d in await again.lease(10, 30, now=T0)) == ["x", "y"]
    finally:
        await again.close()


async def test_a_closed_queue_refuses_a_batch(queue_factory: Callable[[], DialQueue]) -> None:
    q = queue_factory()
    await q.open()
    await q.close()
    with pytest.raises(QueueUnavailable):
        await q.enqueue_many([new("z")], 3600)
