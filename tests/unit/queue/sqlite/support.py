"""What the SQLite tests share: a dial to store, and what a queue file holds."""

from __future__ import annotations

from pathlib import Path

from relay.queue.base import NewDial
from relay.queue.sqlite import SqliteQueue

T0 = 1_800_000_000.0


def new(dial_id: str) -> NewDial:
    return NewDial("crm", dial_id, b'{"dial_id":"%s"}' % dial_id.encode(), T0)


async def stored(path: Path) -> set[str]:
    """The dial ids in the queue file, read by a fresh queue: what survived the commits."""
    queue = SqliteQueue(path)
    await queue.open()
    try:
        return {d.dial_id for d in await queue.lease(1000, 30, now=T0 + 1)}
    finally:
        await queue.close()
