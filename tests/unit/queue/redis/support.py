"""What the Redis tests share: a dial to store, and the replica factory's type."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

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
