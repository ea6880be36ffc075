"""SQLite: read-only queries never hold up the writer that answers webhooks."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from relay.queue.base import NewDial
from relay.queue.sqlite import SqliteQueue

pytestmark = pytest.mark.anyio


async def test_a_slow_read_does_not_block_enqueue(tmp_path: Path) -> None:
    """While a read (e.g. the /metrics counts) is busy, enqueues still commit."""
    queue = SqliteQueue(tmp_path / "q.db")
    await queue.open()
    release = threading.Event()
    try:
        reading = asyncio.create_task(queue._read(lambda _c: release.wait(10)))
        await asyncio.sleep(0.05)  # the read now occupies its connection
        dial = NewDial("crm", "d1", b"{}", time.time())
        assert await asyncio.wait_for(queue.enqueue(dial, 60), timeout=5)
        assert not reading.done()
        stats_during = await asyncio.wait_for(asyncio.shield(queue.next_due()), timeout=5)
        assert stats_during is not None
    finally:
        release.set()
        await reading
        await queue.close()
    reopened = SqliteQueue(tmp_path / "q.db")
    await reopened.open()
    try:
        assert (await reopened.stats(now=time.time() + 1)).ready == 1
    finally:
        await reopened.close()
