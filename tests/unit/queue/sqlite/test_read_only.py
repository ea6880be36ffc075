"""SQLite: a queue opened read-only reads what was committed, refuses every write, and never
creates a file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from relay.exceptions import QueueUnavailable
from relay.queue.base import NewDial
from relay.queue.sqlite import SqliteQueue

pytestmark = pytest.mark.anyio


async def test_reads_what_the_writer_committed_and_refuses_writes(tmp_path: Path) -> None:
    """Open beside the queue that writes (as an operator command beside the relay): it sees
    the writer's commits; an enqueue through it is refused and changes nothing."""
    path = tmp_path / "queue.db"
    writer = SqliteQueue(path)
    await writer.open()
    looking = SqliteQueue(path, read_only=True)
    await looking.open()
    try:
        now = time.time()
        assert await writer.enqueue(NewDial("crm", "d1", b"{}", now), 60)
        assert (await looking.stats(now=now + 1)).ready == 1
        with pytest.raises(QueueUnavailable):
            await looking.enqueue(NewDial("crm", "d2", b"{}", now), 60)
        assert not await looking.ping()  # it takes no traffic
        assert (await writer.stats(now=now + 1)).ready == 1
    finally:
        await looking.close()
        await writer.close()


async def test_a_missing_file_is_not_created(tmp_path: Path) -> None:
    """Opening a read-only queue where there is none fails and leaves no file behind."""
    queue = SqliteQueue(tmp_path / "none" / "queue.db", read_only=True)
    with pytest.raises(QueueUnavailable, match="no queue at"):
        await queue.open()
    await queue.close()
    assert not (tmp_path / "none").exists()
    assert "read_only=True" in repr(queue)
