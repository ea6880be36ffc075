"""SQLite: a queue file written before dial history existed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from relay.queue.sqlite import SqliteQueue
from relay.queue.sqlite.schema import SCHEMA
from tests.unit.queue.sqlite.support import T0, new

pytestmark = pytest.mark.anyio

#: The tables of a queue file from before dial history (everything above the history table).
OLD_SCHEMA = SCHEMA.split("-- Each stored dial's history")[0]


async def test_a_file_without_history_reads_as_none_then_gets_it(tmp_path: Path) -> None:
    """Read-only (a looking command), an older relay's file has no history to show, and is
    left as it is; opened by the relay, it gets the table and records from then on."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
    looking = SqliteQueue(path, read_only=True)
    await looking.open()
    assert await looking.dial_history("a") == []
    assert await looking.list_history() == []
    await looking.close()

    relay = SqliteQueue(path)
    await relay.open()
    await relay.enqueue(new("a"), 60)
    (record,) = await relay.dial_history("a")
    assert (record.state, record.received_at) == ("queued", T0)
    await relay.close()
