"""SQLite: read-only queries never hold up the writer that answers webhooks.

The reader and the writer are built here as ``SqliteQueue`` builds them, over one file, with
the delivery role on top; the slow read goes through the reader's public ``read``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from relay.exceptions import QueueError, QueueUnavailable
from relay.queue.base import NewDial
from relay.queue.sqlite import SqliteQueue, SqliteReader, SqliteWriter
from relay.queue.sqlite.delivery import SqliteDelivery
from relay.queue.sqlite.schema import SCHEMA

pytestmark = pytest.mark.anyio


async def test_a_slow_read_does_not_block_enqueue(tmp_path: Path) -> None:
    """While a read (e.g. the /metrics counts) is busy, enqueues still commit."""
    writer = SqliteWriter(tmp_path / "q.db", schema=SCHEMA)
    reader = SqliteReader(tmp_path / "q.db")
    queue = SqliteDelivery(writer, reader)
    await writer.open()
    reader.open()
    release = threading.Event()
    try:
        reading = asyncio.create_task(reader.read(lambda _c: release.wait(10)))
        await asyncio.sleep(0.05)  # the read now occupies its connection
        dial = NewDial("crm", "d1", b"{}", time.time())
        assert await asyncio.wait_for(queue.enqueue(dial, 60), timeout=5)
        assert not reading.done()
        stats_during = await asyncio.wait_for(asyncio.shield(queue.next_due()), timeout=5)
        assert stats_during is not None
    finally:
        release.set()
        await reading
        await writer.close()
        reader.close()
    reopened = SqliteQueue(tmp_path / "q.db")
    await reopened.open()
    try:
        assert (await reopened.stats(now=time.time() + 1)).ready == 1
    finally:
        await reopened.close()


async def test_reads_see_what_the_writer_committed(tmp_path: Path) -> None:
    """The reader sees every commit; an SQLite error in a read becomes ``QueueError``."""
    writer = SqliteWriter(tmp_path / "q.db", schema="CREATE TABLE t (x INTEGER);")
    reader = SqliteReader(tmp_path / "q.db")
    await writer.open()
    reader.open()
    try:
        await writer.call(lambda c: c.execute("INSERT INTO t VALUES (7)"))
        assert await reader.read(lambda c: c.execute("SELECT x FROM t").fetchall()) == [(7,)]
        with pytest.raises(QueueError, match="queue read failed"):
            await reader.read(lambda c: c.execute("SELECT nope FROM t"))
    finally:
        await writer.close()
        reader.close()


async def test_a_closed_reader_refuses_reads(tmp_path: Path) -> None:
    """Reads are answered from open() to close() only."""
    reader = SqliteReader(tmp_path / "q.db")
    with pytest.raises(QueueUnavailable, match="queue is not open"):
        await reader.read(lambda c: c.execute("SELECT 1").fetchone())
    reader.open()
    assert await reader.read(lambda c: c.execute("SELECT 1").fetchone()) == (1,)
    reader.close()
    with pytest.raises(QueueUnavailable, match="queue is not open"):
        await reader.read(lambda c: c.execute("SELECT 1").fetchone())
