"""The embedded queue: one SQLite file in WAL mode, no server.

Every operation runs on one writer thread that owns the connection. The event loop does not
wake that thread once per operation: the operations its tasks submit during one turn of the
loop are handed over together, with one put, at the end of that turn. The thread takes all
the operations waiting for it, runs them in one transaction and commits once: group commit.
``synchronous=FULL`` makes every commit durable before any caller is answered, so a 202
survives ``kill -9`` and power loss, and throughput grows with load instead of collapsing
under one fsync per webhook. The answers go back with one wake-up per event loop per batch.

Each operation runs bare in the transaction (no SAVEPOINT: two statements fewer each). If
one fails, the whole transaction is rolled back and the batch runs again with each operation
in its own SAVEPOINT, so one failure does not undo the others. An operation may therefore
run twice, the first run rolled back: it must touch nothing but the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue as stdqueue
import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import orjson

from relay.exceptions import ConfigError, QueueError, QueueUnavailable
from relay.queue.base import DeadDial, LeasedDial, NewDial, QueueStats, RejectedRecord

__all__ = ["SqliteQueue"]

T = TypeVar("T")
LANES = (0, 1)
_BATCH_MAX = 2048
_SEEN_SWEEP_EVERY = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    lane INTEGER NOT NULL DEFAULT 0,
    received_at REAL NOT NULL,
    due_at REAL NOT NULL,
    leased INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'dial'
);
CREATE INDEX IF NOT EXISTS dials_due ON dials (lane, due_at);
CREATE INDEX IF NOT EXISTS dials_source ON dials (source, due_at);
CREATE TABLE IF NOT EXISTS seen (
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (source, dial_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_expiry ON seen (expires_at);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    dial_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    received_at REAL NOT NULL,
    dead_at REAL NOT NULL,
    reason TEXT NOT NULL,
    status INTEGER,
    response_body TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'dial'
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    method TEXT NOT NULL,
    content_type TEXT NOT NULL,
    query TEXT NOT NULL,
    body BLOB NOT NULL,
    problems TEXT NOT NULL
);
"""

_STOP = object()

# One operation: what to run on the writer's connection, and the future that gets its answer.
_Op = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]
# What the writer thread gets: one event loop's operations from one turn of that loop.
_Handoff = tuple[asyncio.AbstractEventLoop, list[_Op]]
# An operation's outcome: (value, None) or (None, the exception it raised).
_Outcome = tuple[Any, BaseException | None]


class SqliteQueue:
    """``DialQueue`` on one SQLite file (see the module docstring for the design)."""

    def __init__(self, path: Path | str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self._ops: stdqueue.SimpleQueue[Any] = stdqueue.SimpleQueue()
        self._pending: dict[asyncio.AbstractEventLoop, list[_Op]] = {}
        self._thread: threading.Thread | None = None
        self._accepting = False  # True from open() until close() begins
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._enqueues = 0
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> SqliteQueue:
        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise ConfigError(f"RELAY_QUEUE_URL: expected sqlite:///path/queue.db, got {url!r}")
        # sqlite:///rel/q.db → "rel/q.db"; sqlite:////abs/q.db → "/abs/q.db"
        return cls(path[1:])

    def __repr__(self) -> str:
        return f"SqliteQueue({str(self.path)!r})"

    # --- the writer thread ---------------------------------------------------------------
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
        if self._thread is None or not self._accepting:
            return
        self._accepting = False  # an operation submitted from now on would never run
        # Operations submitted during this turn of the loop go before the stop, not after it.
        self._flush(asyncio.get_running_loop())
        self._ops.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(_SCHEMA)
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
                first = self._ops.get()
                if first is _STOP:
                    return
                batch: list[_Handoff] = [first]
                size = len(first[1])
                stop = False
                while size < _BATCH_MAX:
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
            conn.close()
            self._fail_leftovers()

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
                _answer(loop, [(fut, None, closed) for _fn, fut in ops])

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Handoff]) -> None:
        fns = [fn for _loop, ops in batch for fn, _fut in ops]
        try:
            outcomes = _transact(conn, fns)
        except Exception as exc:  # a bug here must not kill the thread and strand every caller
            _rollback(conn)
            outcomes = [(None, QueueUnavailable(f"queue batch failed: {exc!r}"))] * len(fns)
        # One wake-up per event loop for the whole batch, not one per operation.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, Any]]] = {}
        done = iter(outcomes)
        for loop, ops in batch:
            settled = by_loop.setdefault(loop, [])
            for _fn, fut in ops:
                value, error = next(done)
                settled.append((fut, value, error))
        for loop, settled in by_loop.items():
            _answer(loop, settled)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this loop's waiting operations to the writer thread (one put, one wake-up)."""
        ops = self._pending.pop(loop, None)
        if ops:
            self._ops.put((loop, ops))

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread in the next group commit; its answer once durable.

        ``fn`` may run twice (see the module docstring): it must only use the connection.
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
        pending.append((fn, fut))
        if len(pending) >= _BATCH_MAX:
            self._flush(loop)
        # No shield needed: a cancelled caller does not stop the operation (the writer
        # thread runs it regardless) and _settle skips a future that is already done.
        try:
            return await fut
        except sqlite3.Error as exc:
            raise QueueError(f"queue operation failed: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read-only query on its own connection, off the writer thread.

        WAL lets it read a consistent snapshot while the writer commits, so a slow scan (the
        counts behind /metrics with a million-dial backlog) never holds up intake's commits.
        """
        if self._thread is None:
            raise QueueUnavailable("queue is not open")

        def run() -> T:
            with self._reader_lock:
                if self._reader is None:
                    self._reader = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False
                    )
                    self._reader.execute("PRAGMA busy_timeout=10000")
                return fn(self._reader)

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise QueueError(f"queue read failed: {exc}") from exc

    async def ping(self) -> bool:
        try:
            await self._call(lambda c: c.execute("SELECT 1").fetchone())
        except QueueError:
            return False
        return True

    # --- delivery path -----------------------------------------------------------------
    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        self._enqueues += 1
        sweep = self._enqueues % _SEEN_SWEEP_EVERY == 0

        def op(c: sqlite3.Connection) -> bool:
            now = dial.received_at
            cur = c.execute(
                "INSERT INTO seen (source, dial_id, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source, dial_id) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE seen.expires_at <= ?",
                (dial.source, dial.dial_id, now + dedupe_seconds, now),
            )
            if cur.rowcount == 0:
                return False
            c.execute(
                "INSERT INTO dials (source, dial_id, payload, lane, received_at, due_at, kind) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    dial.source,
                    dial.dial_id,
                    dial.payload,
                    dial.lane,
                    now,
                    dial.due_at or now,
                    dial.kind,
                ),
            )
            if sweep:
                c.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
            return True

        return await self._call(op)

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool:
        row = await self._read(
            lambda c: c.execute(
                "SELECT 1 FROM seen WHERE source = ? AND dial_id = ? AND expires_at > ?",
                (source, dial_id, now),
            ).fetchone()
        )
        return row is not None

    async def lease(
        self,
        limit: int,
        visibility: float,
        *,
        now: float,
        exclude_sources: Collection[str] = (),
        only_sources: Collection[str] | None = None,
        horizon: float | None = None,
    ) -> list[LeasedDial]:
        if limit <= 0:
            return []
        filters, params = _source_filter(exclude_sources, only_sources)

        def op(c: sqlite3.Connection) -> list[LeasedDial]:
            out: list[LeasedDial] = []
            for lane in LANES:
                want = limit - len(out)
                if want <= 0:
                    break
                rows = c.execute(
                    "SELECT id, source, dial_id, payload, attempts, received_at, kind FROM dials "  # noqa: S608
                    f"WHERE lane = ? AND due_at <= ?{filters} ORDER BY due_at, id LIMIT ?",
                    (lane, now if horizon is None else horizon, *params, want),
                ).fetchall()
                if not rows:
                    continue
                c.execute(
                    "UPDATE dials SET leased = 1, due_at = ?, attempts = attempts + 1 "  # noqa: S608
                    f"WHERE id IN ({','.join('?' * len(rows))})",
                    (now + visibility, *(r[0] for r in rows)),
                )
                out.extend(
                    LeasedDial(str(r[0]), r[1], r[2], bytes(r[3]), r[4] + 1, r[5], r[6])
                    for r in rows
                )
            return out

        return await self._call(op)

    async def ack(self, ids: Sequence[str]) -> None:
        if ids:
            await self._call(
                lambda c: c.executemany("DELETE FROM dials WHERE id = ?", [(int(i),) for i in ids])
            )

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        await self._call(
            lambda c: c.execute(
                "UPDATE dials SET payload = ?, kind = ? WHERE id = ?",
                (payload, kind, int(queue_id)),
            )
        )

    async def retry(self, dial_id: str, due_at: float, error: str) -> None:
        await self._call(
            lambda c: c.execute(
                "UPDATE dials SET leased = 0, due_at = ?, last_error = ? WHERE id = ?",
                (due_at, error[:500], int(dial_id)),
            )
        )

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        if ids:
            await self._call(
                lambda c: c.executemany(
                    "UPDATE dials SET leased = 0, due_at = ?, attempts = MAX(attempts - 1, 0) "
                    "WHERE id = ?",
                    [(now, int(i)) for i in ids],
                )
            )

    async def delay_sources(self, sources: Collection[str], until: float) -> int:
        """Push every waiting dial of ``sources`` to ``until`` (a held key's next probe)."""
        if not sources:
            return 0
        marks = ",".join("?" * len(sources))
        return await self._call(
            lambda c: (
                c.execute(
                    f"UPDATE dials SET due_at = ? WHERE source IN ({marks}) AND leased = 0 "  # noqa: S608
                    "AND due_at < ?",
                    (until, *sources, until),
                ).rowcount
            )
        )

    async def release_delayed(self, *, now: float, sources: Collection[str] | None = None) -> int:
        if sources is not None and not sources:
            return 0
        clause, params = "", tuple[str, ...]()
        if sources is not None:
            clause = f" AND source IN ({','.join('?' * len(sources))})"
            params = tuple(sources)
        return await self._call(
            lambda c: (
                c.execute(
                    f"UPDATE dials SET due_at = ? WHERE leased = 0 AND due_at > ?{clause}",  # noqa: S608
                    (now, now, *params),
                ).rowcount
            )
        )

    async def next_due(self) -> float | None:
        def op(c: sqlite3.Connection) -> float | None:
            best: float | None = None
            for lane in LANES:
                row = c.execute(
                    "SELECT due_at FROM dials WHERE lane = ? ORDER BY due_at LIMIT 1", (lane,)
                ).fetchone()
                if row is not None and (best is None or row[0] < best):
                    best = float(row[0])
            return best

        return await self._call(op)

    async def dead_letter(
        self, queue_id: str, *, reason: str, status: int | None, response_body: str, now: float
    ) -> None:
        def op(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO dead (source, dial_id, payload, attempts, received_at, dead_at, "
                "reason, status, response_body, kind) SELECT source, dial_id, payload, attempts, "
                "received_at, ?, ?, ?, ?, kind FROM dials WHERE id = ?",
                (now, reason, status, response_body[:4000], int(queue_id)),
            )
            c.execute("DELETE FROM dials WHERE id = ?", (int(queue_id),))

        await self._call(op)

    async def stats(self, *, now: float) -> QueueStats:
        def op(c: sqlite3.Connection) -> QueueStats:
            ready = c.execute("SELECT COUNT(*) FROM dials WHERE due_at <= ?", (now,)).fetchone()
            waiting = c.execute(
                "SELECT leased, COUNT(*) FROM dials WHERE due_at > ? GROUP BY leased", (now,)
            ).fetchall()
            by_leased = {int(k): int(v) for k, v in waiting}
            dead = c.execute("SELECT COUNT(*) FROM dead").fetchone()
            rejected = c.execute("SELECT COUNT(*) FROM rejected").fetchone()
            oldest = c.execute("SELECT received_at FROM dials ORDER BY id LIMIT 1").fetchone()
            by_source = dict(c.execute("SELECT source, COUNT(*) FROM dials GROUP BY source"))
            return QueueStats(
                ready=int(ready[0]),
                delayed=by_leased.get(0, 0),
                leased=by_leased.get(1, 0),
                dead=int(dead[0]),
                rejected=int(rejected[0]),
                oldest_received_at=float(oldest[0]) if oldest else None,
                by_source={str(k): int(v) for k, v in by_source.items()},
            )

        return await self._read(op)

    # --- dead letters --------------------------------------------------------------------
    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
    ) -> list[DeadDial]:
        where, params = _dead_filter(source, status, before)

        def op(c: sqlite3.Connection) -> list[DeadDial]:
            rows = c.execute(
                f"SELECT {_DEAD_COLS} FROM dead{where} ORDER BY id LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
            return [_dead(r) for r in rows]

        return await self._read(op)

    async def get_dead(self, queue_id: str) -> DeadDial | None:
        def op(c: sqlite3.Connection) -> DeadDial | None:
            row = c.execute(
                f"SELECT {_DEAD_COLS} FROM dead WHERE id = ?",  # noqa: S608
                (_int_id(queue_id),),
            ).fetchone()
            return _dead(row) if row else None

        return await self._read(op)

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        def op(c: sqlite3.Connection) -> int:
            moved = 0
            for i in ids:
                cur = c.execute(
                    "INSERT INTO dials (source, dial_id, payload, received_at, due_at, kind) "
                    "SELECT source, dial_id, payload, received_at, ?, kind FROM dead WHERE id = ?",
                    (now, _int_id(i)),
                )
                if cur.rowcount:
                    c.execute("DELETE FROM dead WHERE id = ?", (_int_id(i),))
                    moved += 1
            return moved

        return await self._call(op)

    async def purge_dead(self, ids: Sequence[str]) -> int:
        return await self._call(
            lambda c: sum(
                c.execute("DELETE FROM dead WHERE id = ?", (_int_id(i),)).rowcount for i in ids
            )
        )

    # --- rejected requests -------------------------------------------------------------
    async def add_rejected(self, record: RejectedRecord) -> str:
        def op(c: sqlite3.Connection) -> str:
            cur = c.execute(
                "INSERT INTO rejected (source, received_at, method, content_type, query, body, "
                "problems) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.source,
                    record.received_at,
                    record.method,
                    record.content_type,
                    orjson.dumps(record.query).decode(),
                    record.body,
                    orjson.dumps(record.problems).decode(),
                ),
            )
            return str(cur.lastrowid)

        return await self._call(op)

    async def list_rejected(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[RejectedRecord]:
        where, params = (" WHERE source = ?", (source,)) if source else ("", ())

        def op(c: sqlite3.Connection) -> list[RejectedRecord]:
            rows = c.execute(
                f"SELECT {_REJ_COLS} FROM rejected{where} ORDER BY id LIMIT ?",  # noqa: S608
                (*params, limit),
            ).fetchall()
            return [_rejected(r) for r in rows]

        return await self._read(op)

    async def get_rejected(self, record_id: str) -> RejectedRecord | None:
        def op(c: sqlite3.Connection) -> RejectedRecord | None:
            row = c.execute(
                f"SELECT {_REJ_COLS} FROM rejected WHERE id = ?",  # noqa: S608
                (_int_id(record_id),),
            ).fetchone()
            return _rejected(row) if row else None

        return await self._read(op)

    async def delete_rejected(self, ids: Sequence[str]) -> int:
        return await self._call(
            lambda c: sum(
                c.execute("DELETE FROM rejected WHERE id = ?", (_int_id(i),)).rowcount for i in ids
            )
        )


_DEAD_COLS = (
    "id, source, dial_id, payload, attempts, received_at, dead_at, reason, status, response_body"
)
_REJ_COLS = "id, source, received_at, method, content_type, query, body, problems"


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


def _transact(
    conn: sqlite3.Connection, fns: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[_Outcome]:
    """Run ``fns`` in one transaction and commit it: each one's value or exception.

    The fast path runs them bare. When one raises, the transaction is rolled back and they
    all run again, each in its own SAVEPOINT, so that only the failing ones are undone.
    """
    begun = _begin(conn, len(fns))
    if begun is not None:
        return begun
    outcomes: list[_Outcome] = []
    for fn in fns:
        try:
            outcomes.append((_run_op(conn, fn), None))
        except Exception:
            _rollback(conn)
            return _transact_isolated(conn, fns)
    return _commit(conn, outcomes)


def _transact_isolated(
    conn: sqlite3.Connection, fns: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[_Outcome]:
    begun = _begin(conn, len(fns))
    if begun is not None:
        return begun
    outcomes: list[_Outcome] = []
    for fn in fns:
        conn.execute("SAVEPOINT op")
        try:
            outcomes.append((_run_op(conn, fn), None))
            conn.execute("RELEASE op")
        except Exception as exc:
            try:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
            except sqlite3.Error:
                _rollback(conn)  # cannot undo just this one: undo them all
            if not conn.in_transaction:
                # SQLite gave up the whole transaction (I/O error, disk full): nothing in
                # this batch is stored, so no caller may be told otherwise.
                lost = QueueUnavailable(f"queue transaction rolled back: {exc}")
                return [(None, lost)] * len(fns)
            outcomes.append((None, exc))
    return _commit(conn, outcomes)


def _begin(conn: sqlite3.Connection, count: int) -> list[_Outcome] | None:
    """``BEGIN IMMEDIATE`` (it may wait up to busy_timeout); the failed outcomes if it fails."""
    _rollback(conn)  # a transaction left over by an earlier failure must not swallow this one
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [(None, QueueUnavailable(f"queue unavailable: {exc}"))] * count
    return None


def _commit(conn: sqlite3.Connection, outcomes: list[_Outcome]) -> list[_Outcome]:
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _rollback(conn)
        return [(None, QueueUnavailable(f"queue commit failed: {exc}"))] * len(outcomes)
    return outcomes


def _run_op(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    value = fn(conn)
    if isinstance(value, sqlite3.Cursor):
        # A cursor must die on this thread: finalizing it on the event loop's thread while
        # this one runs a statement is SQLITE_MISUSE.
        value.close()
        return None
    return value


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _int_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return -1


def _source_filter(
    exclude: Collection[str], only: Collection[str] | None
) -> tuple[str, tuple[str, ...]]:
    clause, params = "", tuple[str, ...]()
    if exclude:
        clause += f" AND source NOT IN ({','.join('?' * len(exclude))})"
        params += tuple(exclude)
    if only is not None:
        clause += f" AND source IN ({','.join('?' * len(only))})" if only else " AND 0"
        params += tuple(only)
    return clause, params


def _dead_filter(
    source: str | None, status: int | None, before: float | None
) -> tuple[str, tuple[Any, ...]]:
    parts: list[str] = []
    params: list[Any] = []
    if source:
        parts.append("source = ?")
        params.append(source)
    if status is not None:
        parts.append("status = ?")
        params.append(status)
    if before is not None:
        parts.append("dead_at < ?")
        params.append(before)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(params)


def _dead(r: Sequence[Any]) -> DeadDial:
    return DeadDial(
        id=str(r[0]),
        source=r[1],
        dial_id=r[2],
        payload=bytes(r[3]),
        attempts=r[4],
        received_at=r[5],
        dead_at=r[6],
        reason=r[7],
        status=r[8],
        response_body=r[9],
    )


def _rejected(r: Sequence[Any]) -> RejectedRecord:
    return RejectedRecord(
        id=str(r[0]),
        source=r[1],
        received_at=r[2],
        method=r[3],
        content_type=r[4],
        query=orjson.loads(r[5]),
        body=bytes(r[6]),
        problems=orjson.loads(r[7]),
    )
