"""SQLite: how the writer thread batches operations into group commits, and what a failure,
a cancelled caller, a lock held by another connection or a close does to a batch.

The writer is built here as ``SqliteQueue`` builds it, with a batch observer; operations go
through its public ``call`` and through the delivery role (``SqliteDelivery``) on top of it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from relay.exceptions import QueueError, QueueUnavailable
from relay.queue.sqlite import SqliteReader, SqliteWriter
from relay.queue.sqlite.delivery import SqliteDelivery
from relay.queue.sqlite.schema import SCHEMA
from tests.unit.queue.sqlite.support import T0, new, stored

pytestmark = pytest.mark.anyio


class Rig:
    """A writer built as ``SqliteQueue`` builds its own, plus a batch observer, and the
    delivery role over it."""

    def __init__(self, path: Path) -> None:
        self.batches: list[int] = []  # operations per transaction
        self.handoffs: list[int] = []  # hand-overs from the event loop per transaction
        self.writer = SqliteWriter(path, schema=SCHEMA, on_batch=self.observe)
        self.reader = SqliteReader(path)
        self.queue = SqliteDelivery(self.writer, self.reader)

    def observe(self, operations: int, handoffs: int) -> None:
        self.batches.append(operations)
        self.handoffs.append(handoffs)

    async def open(self) -> None:
        await self.writer.open()
        self.reader.open()

    async def close(self) -> None:
        await self.writer.close()
        self.reader.close()


async def turns(n: int = 5) -> None:
    """Let the event loop go round ``n`` times (tasks submit, the loop hands over)."""
    for _ in range(n):
        await asyncio.sleep(0)


@asynccontextmanager
async def writer_busy(writer: SqliteWriter) -> AsyncIterator[None]:
    """Keep the writer thread inside a batch (a commit in flight) until the block ends."""
    gate, inside = threading.Event(), threading.Event()

    def hold(_c: sqlite3.Connection) -> str:
        inside.set()
        gate.wait(30)
        return "held"

    held = asyncio.create_task(writer.call(hold))
    assert await asyncio.to_thread(inside.wait, 30)
    try:
        yield
    finally:
        gate.set()
        assert await held == "held"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path / "q.db")
    await rig.open()
    yield rig
    await rig.close()


async def test_one_turn_of_the_loop_is_one_group_commit(rig: Rig) -> None:
    """Operations submitted in the same turn reach the writer in one hand-over (one wake-up
    of the thread, not one per operation) and are committed in one transaction."""
    results = await asyncio.gather(*(rig.queue.enqueue(new(f"d{i}"), 60) for i in range(100)))
    assert all(results)
    assert (rig.batches, rig.handoffs) == ([100], [1])


async def test_operations_waiting_for_a_commit_go_in_the_next_one(rig: Rig, tmp_path: Path) -> None:
    """While a batch is in flight new operations wait; the next batch takes them all, and
    every caller is answered once that commit is durable."""
    async with writer_busy(rig.writer):
        first = [asyncio.create_task(rig.queue.enqueue(new(f"a{i}"), 60)) for i in range(30)]
        await turns()
        second = [asyncio.create_task(rig.queue.enqueue(new(f"b{i}"), 60)) for i in range(20)]
        await turns()
        assert not any(t.done() for t in first + second)
    assert all(await asyncio.gather(*first, *second))
    assert (rig.batches, rig.handoffs) == ([1, 50], [1, 2])
    await rig.close()
    assert await stored(tmp_path / "q.db") == {f"a{i}" for i in range(30)} | {
        f"b{i}" for i in range(20)
    }


async def test_a_failing_operation_does_not_undo_its_batch(rig: Rig, tmp_path: Path) -> None:
    """Operations that fail are undone, alone: the rest of their batch is committed, and
    each caller gets its own answer (including a duplicate decided within the batch)."""

    def writes_then_fails(c: sqlite3.Connection) -> None:
        c.execute(
            "INSERT INTO dials (source, dial_id, payload, received_at, due_at) "
            "VALUES ('crm', 'ghost', x'00', 0, 0)"
        )
        raise ValueError("boom")

    async with writer_busy(rig.writer):
        ops = [
            asyncio.create_task(rig.queue.enqueue(new("a"), 60)),
            asyncio.create_task(rig.writer.call(writes_then_fails)),
            asyncio.create_task(rig.queue.enqueue(new("a"), 60)),
            asyncio.create_task(rig.writer.call(lambda c: c.execute("SELECT nope FROM dials"))),
            asyncio.create_task(rig.writer.call(lambda c: c.execute("SELECT 1"))),
            asyncio.create_task(rig.queue.enqueue(new("b"), 60)),
        ]
        await turns()
    a, failed, duplicate, bad_sql, cursor, b = await asyncio.gather(*ops, return_exceptions=True)
    assert (a, duplicate, cursor, b) == (True, False, None, True)
    assert isinstance(failed, ValueError)
    assert isinstance(bad_sql, QueueError)
    assert rig.batches == [1, 6]
    assert await rig.queue.enqueue(new("c"), 60)  # the writer carries on
    await rig.close()
    assert await stored(tmp_path / "q.db") == {"a", "b", "c"}


async def test_a_lost_transaction_fails_its_whole_batch(rig: Rig, tmp_path: Path) -> None:
    """When SQLite itself rolls the transaction back (I/O error, disk full), nothing in the
    batch was stored, so no caller may hear that its operation succeeded."""

    def loses_the_transaction(c: sqlite3.Connection) -> None:
        c.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")

    async with writer_busy(rig.writer):
        ops = [
            asyncio.create_task(rig.queue.enqueue(new("a"), 60)),
            asyncio.create_task(rig.writer.call(loses_the_transaction)),
            asyncio.create_task(rig.queue.enqueue(new("b"), 60)),
        ]
        await turns()
    results = await asyncio.gather(*ops, return_exceptions=True)
    assert all(isinstance(r, QueueUnavailable) for r in results)
    assert await rig.queue.enqueue(new("c"), 60)  # the writer carries on
    await rig.close()
    assert await stored(tmp_path / "q.db") == {"c"}


async def test_a_cancelled_caller_does_not_stop_its_operation(rig: Rig, tmp_path: Path) -> None:
    async with writer_busy(rig.writer):
        task = asyncio.create_task(rig.queue.enqueue(new("a"), 60))
        await turns()
        task.cancel()
        await turns()
        assert task.cancelled()
    assert await rig.queue.enqueue(new("b"), 60)
    await rig.close()
    assert await stored(tmp_path / "q.db") == {"a", "b"}


async def test_a_write_lock_held_elsewhere_does_not_block_the_event_loop(
    rig: Rig, tmp_path: Path
) -> None:
    """Another connection (the operator CLI) holds the write lock: BEGIN IMMEDIATE waits
    for it on the writer thread while the event loop keeps turning."""
    other = sqlite3.connect(tmp_path / "q.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        task = asyncio.create_task(rig.queue.enqueue(new("a"), 60))
        await turns(50)  # were BEGIN on the loop, this would stall until busy_timeout
        assert not task.done()
        other.execute("COMMIT")
        assert await task
    finally:
        other.close()


async def test_close_runs_what_this_turn_submitted_and_refuses_the_rest(
    rig: Rig, tmp_path: Path
) -> None:
    """An operation submitted before close() but not yet handed over is still committed;
    one submitted once close() has begun is refused instead of waiting forever."""
    task = asyncio.create_task(rig.queue.enqueue(new("a"), 60))
    await asyncio.sleep(0)  # the task has submitted; the hand-over is still to come
    late = asyncio.create_task(rig.queue.enqueue(new("b"), 60))  # runs once close() has begun
    await rig.close()
    assert await asyncio.wait_for(task, 30)
    with pytest.raises(QueueUnavailable):
        await late
    assert await stored(tmp_path / "q.db") == {"a"}


async def test_an_observer_that_raises_fails_its_batch_not_the_writer(tmp_path: Path) -> None:
    """The batch observer runs inside the writer's guard: a bug there fails that batch, as
    any bug in the writer would, and the thread carries on."""
    seen: list[int] = []

    def observer(operations: int, _handoffs: int) -> None:
        seen.append(operations)
        if len(seen) == 1:
            raise RuntimeError("observer bug")

    writer = SqliteWriter(tmp_path / "q.db", schema="CREATE TABLE t (x);", on_batch=observer)
    await writer.open()
    try:
        with pytest.raises(QueueUnavailable, match="queue batch failed"):
            await writer.call(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        assert await writer.call(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()) == (0,)
        assert seen == [1, 1]
    finally:
        await writer.close()


def _synchronous(c: sqlite3.Connection) -> int:
    """The connection's ``synchronous`` setting as SQLite reports it (1 NORMAL, 2 FULL)."""
    return int(c.execute("PRAGMA synchronous").fetchone()[0])


async def test_a_batch_without_a_durable_operation_commits_without_fsync(rig: Rig) -> None:
    """Only operations that may be undone by a power cut (``durable=False``): the commit is
    ``NORMAL``; one durable operation in the same turn makes the whole commit ``FULL``."""
    assert await rig.writer.call(_synchronous, durable=False) == 1
    assert await rig.writer.call(_synchronous) == 2
    assert await rig.writer.call(_synchronous, durable=False) == 1
    mixed = await asyncio.gather(
        rig.writer.call(_synchronous, durable=False), rig.writer.call(_synchronous)
    )
    assert mixed == [2, 2]
    assert rig.batches[-1] == 2  # one transaction: the durable one decided it


async def test_a_stream_of_unsynced_commits_is_fsynced_every_fsync_every_seconds(
    tmp_path: Path,
) -> None:
    """However long no durable operation comes (a drain, no webhooks), no commit waits much
    longer than ``fsync_every`` for its fsync: a power cut undoes at most that long of acks.
    Most commits still skip it."""
    writer = SqliteWriter(tmp_path / "q.db", schema=SCHEMA, fsync_every=0.2)
    await writer.open()
    settings: list[int] = []
    waited: list[float] = []
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < 1.0:
            settings.append(await writer.call(_synchronous, durable=False))
            waited.append(writer.unsynced_seconds)
        assert await writer.call(_synchronous) == 2  # a durable one never waits for it
    finally:
        await writer.close()
    assert settings.count(1) > len(settings) / 2  # most commits were not fsynced
    assert max(waited) > 0.1  # the stream did wait for its periodic fsync
    assert max(waited) < 0.2 + 0.15, max(waited)


async def test_an_unsynced_commit_is_fsynced_by_the_writer_when_nothing_else_comes(
    tmp_path: Path,
) -> None:
    """A drain's last acks are not left unsynced until the next webhook: the writer fsyncs
    the WAL itself ``fsync_every`` seconds after the first commit it left unsynced, and
    before it closes; a durable commit syncs everything before it at once."""
    writer = SqliteWriter(tmp_path / "q.db", schema=SCHEMA, fsync_every=0.3)
    await writer.open()
    try:
        assert writer.unsynced_seconds == 0.0
        await writer.call(_synchronous, durable=False)
        assert writer.unsynced_seconds > 0.0
        await asyncio.sleep(0.15)
        assert writer.unsynced_seconds > 0.1  # not before its time
        for _ in range(100):
            if writer.unsynced_seconds == 0.0:
                break
            await asyncio.sleep(0.01)
        assert writer.unsynced_seconds == 0.0
        await writer.call(_synchronous, durable=False)
        assert writer.unsynced_seconds > 0.0
        await writer.call(_synchronous)
        assert writer.unsynced_seconds == 0.0
        await writer.call(_synchronous, durable=False)
        assert writer.unsynced_seconds > 0.0
    finally:
        await writer.close()
    assert writer.unsynced_seconds == 0.0


async def test_a_durable_commit_that_is_lost_leaves_the_unsynced_ones_waiting(
    tmp_path: Path,
) -> None:
    """Only a durable commit that committed fsyncs what came before it: when its transaction
    is lost (I/O error, disk full), the unsynced commits keep their deadline and the writer
    fsyncs them itself."""

    def loses_the_transaction(c: sqlite3.Connection) -> None:
        c.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")

    writer = SqliteWriter(tmp_path / "q.db", schema=SCHEMA, fsync_every=0.3)
    await writer.open()
    try:
        await writer.call(_synchronous, durable=False)
        with pytest.raises(QueueUnavailable):
            await writer.call(loses_the_transaction)
        assert writer.unsynced_seconds > 0.0  # still waiting for its fsync
        for _ in range(100):
            if writer.unsynced_seconds == 0.0:
                break
            await asyncio.sleep(0.01)
        assert writer.unsynced_seconds == 0.0
    finally:
        await writer.close()


@pytest.mark.parametrize(("setting", "value"), [("NORMAL", 1), ("OFF", 0)])
async def test_a_writer_opened_below_full_keeps_its_setting(
    tmp_path: Path, setting: str, value: int
) -> None:
    writer = SqliteWriter(tmp_path / "q.db", synchronous=setting, schema=SCHEMA)
    await writer.open()
    try:
        assert await writer.call(_synchronous) == value
        assert await writer.call(_synchronous, durable=False) == value
    finally:
        await writer.close()


class SpyWriter(SqliteWriter):
    """The real writer, noting whether each operation asked for a durable commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, schema=SCHEMA)
        self.durable: list[bool] = []

    async def call(self, fn, *, durable=True):  # type: ignore[no-untyped-def]
        self.durable.append(durable)
        return await super().call(fn, durable=durable)


async def test_only_the_forwarders_lease_and_ack_skip_the_fsync(tmp_path: Path) -> None:
    """A stored dial (the 202) and a retry are fsynced before their callers hear back; the
    lease and the ack, which a power cut could only undo into a repeat POST with the same
    dial_id, are not. Each lands in the file all the same."""
    writer = SpyWriter(tmp_path / "q.db")
    reader = SqliteReader(tmp_path / "q.db")
    queue = SqliteDelivery(writer, reader)
    await writer.open()
    reader.open()
    try:
        assert await queue.enqueue(new("a"), 60)
        assert await queue.enqueue(new("b"), 60)
        assert writer.durable == [True, True]
        leased = await queue.lease(2, 30, now=T0 + 1)
        assert writer.durable[-1] is False
        by_id = {d.dial_id: d.id for d in leased}
        await queue.ack([by_id["a"]])
        assert writer.durable[-1] is False
        await queue.retry(by_id["b"], T0 + 1, "http 503")
        assert writer.durable[-1] is True
    finally:
        await writer.close()
        reader.close()
    assert await stored(tmp_path / "q.db") == {"b"}  # a's ack and b's retry both committed
