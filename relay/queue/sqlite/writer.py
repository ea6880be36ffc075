"""The writer thread: every write to the queue file, in group commits.

One thread owns the writing connection. The event loop does not wake that thread once per
operation: the operations its tasks submit during one turn of the loop are handed over
together, with one put, at the end of that turn. The thread takes all the operations waiting
for it, runs them in one transaction and commits once: group commit (``transaction``).
``synchronous=FULL`` makes every commit durable before any caller is answered, so a 202
survives ``kill -9`` and power loss, and throughput grows with load instead of collapsing
under one fsync per webhook. The answers go back with one wake-up per event loop per batch.

An operation whose loss to a power cut would cost nothing but a repeat (the forwarder's lease
and ack: a lost one means the dial is sent again, with the same ``dial_id``, which outboundIQ
dedupes) is submitted with ``durable=False``. A transaction holding only such operations
commits at ``synchronous=NORMAL``: written to the WAL, not fsynced. It still survives
``kill -9`` (the OS has it), and in WAL mode the next ``FULL`` commit (or checkpoint) fsyncs it
with its own, in order; one durable operation in a batch makes the whole commit ``FULL``. When
none has come ``fsync_every`` seconds (1) after the first commit left unsynced, the writer
fsyncs the WAL file itself before it takes the next batch (and before it closes), so a power
cut undoes at most about a second of them.

An operation may run twice, the first run rolled back (see ``transaction``): it must touch
nothing but the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue as stdqueue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from relay.exceptions import QueueError, QueueUnavailable
from relay.queue.sqlite.transaction import rollback, transact

__all__ = ["BATCH_MAX", "FSYNC_EVERY", "BatchObserver", "SqliteWriter"]

T = TypeVar("T")
BATCH_MAX = 2048  # operations in one transaction at most
#: Seconds after which a commit is fsynced even when none of its operations asks for it.
FSYNC_EVERY = 1.0

_STOP = object()

# One operation: what to run on the writer's connection, the future that gets its answer, and
# whether its commit must be fsynced before that answer (``durable``).
_Op = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", bool]
# What the writer thread gets: one event loop's operations from one turn of that loop.
_Handoff = tuple[asyncio.AbstractEventLoop, list[_Op]]
# Called on the writer thread before each transaction: (operations, hand-overs) in it.
BatchObserver = Callable[[int, int], None]


class SqliteWriter:
    """The thread that owns the writing connection; ``call(fn)`` runs ``fn`` in a group commit.

    ``schema`` is run (``executescript``) when the connection opens. ``on_batch``, if given,
    is told how many operations and hand-overs each transaction carries; it runs on the
    writer thread before the transaction, so it must be quick (if it raises, that batch
    fails as a bug in the writer would: ``QueueUnavailable``).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: str = "FULL",
        schema: str = "",
        on_batch: BatchObserver | None = None,
        fsync_every: float = FSYNC_EVERY,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.fsync_every = fsync_every
        self.schema = schema
        self._on_batch = on_batch
        self._ops: stdqueue.SimpleQueue[Any] = stdqueue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Op]] = {}
        self._thread: threading.Thread | None = None
        self._accepting = False  # True from open() until close() begins
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._synchronous_now = ""  # the connection's setting (writer thread only)
        self._unsynced_since: float | None = None  # the first commit not fsynced since then

    def __repr__(self) -> str:
        return f"SqliteWriter({str(self.path)!r})"

    @property
    def unsynced_seconds(self) -> float:
        """How long the oldest commit made without an fsync (``durable=False``) has waited
        for one; 0.0 when every commit is fsynced."""
        since = self._unsynced_since
        return 0.0 if since is None else time.monotonic() - since

    @property
    def accepting(self) -> bool:
        """True from ``open()`` until ``close()`` begins: ``call`` is answered."""
        return self._accepting

    async def open(self) -> None:
        if self._thread is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ready.clear()  # reopened after a close: wait for the new thread, not the old one
        self._thread = threading.Thread(target=self._run, name="sqlite-queue", daemon=True)
        self._thread.start()
        await asyncio.get_running_loop().run_in_executor(None, self._ready.wait)
        if self._open_error is not None:
            self._thread = None
            raise QueueUnavailable(f"cannot open queue {self.path}: {self._open_error}")
        self._accepting = True

    async def close(self) -> None:
        """Run what was submitted before this call, then stop; later calls are refused."""
        if self._thread is None or not self._accepting:
            return
        self._accepting = False  # an operation submitted from now on would never run
        # Operations submitted during this turn of the loop go before the stop, not after it.
        self._flush(asyncio.get_running_loop())
        self._ops.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``fn`` on the writer thread in the next group commit; its answer once durable
        (with ``durable=False``, once committed: fsynced by a later commit, see the module
        docstring; only for what a power cut may undo at the cost of a repeat).

        ``fn`` may run twice (see the module docstring): it must only use the connection.
        A ``sqlite3.Error`` it raises becomes ``QueueError``; anything else is raised as is.
        """
        if not self._accepting:
            raise QueueUnavailable("queue is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            # The first operation of this turn: flush once every task ready now has run.
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        pending.append((fn, fut, durable))
        if len(pending) >= BATCH_MAX:
            self._flush(loop)
        # No shield needed: a cancelled caller does not stop the operation (the writer
        # thread runs it regardless) and _settle skips a future that is already done.
        try:
            return await fut
        except sqlite3.Error as exc:
            raise QueueError(f"queue operation failed: {exc}") from exc

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this loop's waiting operations to the writer thread (one put, one wake-up)."""
        ops = self._pending.pop(loop, None)
        if ops:
            self._ops.put((loop, ops))

    # --- on the writer thread ------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        self._synchronous_now = self.synchronous.upper()
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(self.schema)
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._next_handoff()
                if first is _STOP:
                    return
                batch: list[_Handoff] = [first]
                size = len(first[1])
                stop = False
                while size < BATCH_MAX:
                    try:
                        handoff = self._ops.get_nowait()
                    except stdqueue.Empty:
                        break
                    if handoff is _STOP:
                        stop = True
                        break
                    batch.append(handoff)
                    size += len(handoff[1])
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            self._sync_wal()  # what was committed without an fsync: before the file is left
            conn.close()
            self._fail_leftovers()

    def _next_handoff(self) -> Any:
        """The next hand-over. While a commit waits for its fsync, wait no longer than its
        deadline; past it, fsync the WAL first (a steady stream of unsynced commits, or none)."""
        while self._unsynced_since is not None:
            left = self._unsynced_since + self.fsync_every - time.monotonic()
            if left <= 0:
                self._sync_wal()
                continue
            with contextlib.suppress(stdqueue.Empty):
                return self._ops.get(timeout=left)
        return self._ops.get()

    def _sync_wal(self) -> None:
        """fsync the WAL file: every commit in it becomes durable, in order (what
        ``synchronous=FULL`` does at a commit). An error leaves it for a period later."""
        if self._unsynced_since is None:
            return
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except FileNotFoundError:  # checkpointed and gone: the database file is synced
            pass
        except OSError:
            self._unsynced_since = time.monotonic()  # try again a period from now
            return
        self._unsynced_since = None

    def _fail_leftovers(self) -> None:
        """Answer whatever was handed over after the stop: nothing will run it now."""
        closed = QueueUnavailable("queue is closed")
        while True:
            try:
                handoff = self._ops.get_nowait()
            except stdqueue.Empty:
                return
            if handoff is not _STOP:
                loop, ops = handoff
                _answer(loop, [(fut, None, closed) for _fn, fut, _durable in ops])

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Handoff]) -> None:
        fns = [fn for _loop, ops in batch for fn, _fut, _durable in ops]
        try:
            if self._on_batch is not None:
                self._on_batch(len(fns), len(batch))
            durable = any(d for _loop, ops in batch for _fn, _fut, d in ops)
            self._sync_for(conn, durable)
            outcomes = transact(conn, fns)
            if durable and any(error is None for _value, error in outcomes):
                # a FULL commit fsynced the WAL: every unsynced commit before it too
                self._unsynced_since = None
        except Exception as exc:  # a bug here must not kill the thread and strand every caller
            rollback(conn)
            outcomes = [(None, QueueUnavailable(f"queue batch failed: {exc!r}"))] * len(fns)
        # One wake-up per event loop for the whole batch, not one per operation.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
        done = iter(outcomes)
        for loop, ops in batch:
            settled = by_loop.setdefault(loop, [])
            for _fn, fut, _durable in ops:
                value, error = next(done)
                settled.append((fut, value, error))
        for loop, settled in by_loop.items():
            _answer(loop, settled)

    def _sync_for(self, conn: sqlite3.Connection, durable: bool) -> None:
        """``synchronous=FULL`` for a batch with a durable operation (it fsyncs every commit
        before it too), ``NORMAL`` for the others (only when the writer was opened ``FULL``;
        another setting stays as it is)."""
        if self.synchronous.upper() != "FULL":
            return
        wanted = "FULL" if durable else "NORMAL"
        if not durable and self._unsynced_since is None:
            self._unsynced_since = time.monotonic()
        if wanted != self._synchronous_now:
            rollback(conn)  # not inside a transaction (transact's BEGIN would do it anyway)
            conn.execute(f"PRAGMA synchronous={wanted}")
            self._synchronous_now = wanted


def _settle(fut: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, value, error in settled:
        _settle(fut, value, error)


def _answer(
    loop: asyncio.AbstractEventLoop,
    settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits any more
        loop.call_soon_threadsafe(_settle_all, settled)
