"""The delivery path on SQLite: store with dedupe, lease by lane and due time, settle."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from relay.queue.models import LeasedDial, NewDial
from relay.queue.sqlite.reader import SqliteReader
from relay.queue.sqlite.store import SqliteStore
from relay.queue.sqlite.writer import SqliteWriter

if TYPE_CHECKING:
    from relay.queue.protocols import DeliveryQueue

__all__ = ["LANES", "SqliteDelivery"]

LANES = (0, 1)
_SEEN_SWEEP_EVERY = 5000  # enqueues between sweeps of expired dedupe entries


class SqliteDelivery(SqliteStore):
    """``DeliveryQueue`` on the ``dials`` and ``seen`` tables."""

    def __init__(self, writer: SqliteWriter, reader: SqliteReader) -> None:
        super().__init__(writer, reader)
        self._enqueues = 0

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

        return await self._writer.call(op)

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool:
        row = await self._reader.read(
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

        return await self._writer.call(op)

    async def ack(self, ids: Sequence[str]) -> None:
        if ids:
            await self._writer.call(
                lambda c: c.executemany("DELETE FROM dials WHERE id = ?", [(int(i),) for i in ids])
            )

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        await self._writer.call(
            lambda c: c.execute(
                "UPDATE dials SET payload = ?, kind = ? WHERE id = ?",
                (payload, kind, int(queue_id)),
            )
        )

    async def retry(self, queue_id: str, due_at: float, error: str) -> None:
        await self._writer.call(
            lambda c: c.execute(
                "UPDATE dials SET leased = 0, due_at = ?, last_error = ? WHERE id = ?",
                (due_at, error[:500], int(queue_id)),
            )
        )

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        if ids:
            await self._writer.call(
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
        return await self._writer.call(
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
        return await self._writer.call(
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

        return await self._writer.call(op)

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

        await self._writer.call(op)


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


_IMPLEMENTS: type[DeliveryQueue] = SqliteDelivery  # mypy checks that the role is complete
