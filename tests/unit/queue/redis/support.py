"""What the Redis tests share: a dial to store, the replica factory's type, a full Redis."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from relay.exceptions import QueueUnavailable
from relay.queue.base import NewDial
from relay.queue.redis import RedisStreamQueue

MakeQueue = Callable[..., Awaitable[RedisStreamQueue]]


def new(dial_id: str, source: str = "crm", at: float | None = None) -> NewDial:
    return NewDial(
        source=source,
        dial_id=dial_id,
        payload=b'{"dial_id":"%s"}' % dial_id.encode(),
        received_at=time.time() if at is None else at,
    )


async def fill(queue: RedisStreamQueue) -> int:
    """Store dials until Redis (at its maxmemory, noeviction) refuses one; how many it took."""
    stored, refusal = 0, ""
    try:
        while stored < 100_000:
            await queue.enqueue(new(f"d{stored}"), 3600)
            stored += 1
    except QueueUnavailable as full:
        refusal = str(full)
    assert "maxmemory" in refusal and stored > 0
    return stored
