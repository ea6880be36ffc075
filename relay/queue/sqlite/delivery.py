"""The delivery path on SQLite: store with dedupe, lease by lane and due time, settle."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from relay.queue import history
from relay.queue.models import Attempt, LeasedDial, NewDial
from relay.queue.sqlite.intake import insert_dial, note, remember, start_history, sweep_expired
from relay.queue.sqlite.legs import SqliteLegs

if TYPE_CHECKING:
    from relay.queue.protocols import DeliveryQueue

__all__ = ["LANES", "SqliteDelivery"]

LANES = (0, 1)


class SqliteDelivery(SqliteLegs):
    """``DeliveryQueue`` on the ``dials`` and ``seen`` tables (``coalesce``: ``SqliteLegs``)."""

    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        sweep = self._sweeping()
        record = self.history

        def op(c: sqlite3.Connection) -> bool:
            now = dial.received_at
            if not remember(c, dial, dedupe_seconds):
                return False
            queue_id = insert_dial(c, dial, dial.due_at or now)
            if record:
                start_history(c, queue_id, dial)
            if sweep:
                sweep_expired(c, now)
            return True

        return await self._writer.call(op)

    async def enqueue_many(self, dials: Sequence[NewDial], dedupe_seconds: float) -> list[bool]:
        if not dials:
            return []
        sweep = self._sweeping()

        record = self.history

        def op(c: sqlite3.Connection) -> list[bool]:  # one operation: one transaction
            stored: list[bool] = []
            for dial in dials:
                new = remember(c, dial, dedupe_seconds)
                if new:
                    queue_id = insert_dial(c, dial, dial.due_at or dial.received_at)
                    if record:
                        start_history(c, queue_id, dial)
                stored.append(new)
            if sweep:
                sweep_expired(c, dials[0].received_at)
            return stored

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
        held: tuple[float, ...] = ()
        if horizon is not None and horizon > now:  # a probe: never a held leg before its time
            filters += " AND id NOT IN (SELECT queue_id FROM holding WHERE until > ?)"
            held = (now,)

        def op(c: sqlite3.Connection) -> list[LeasedDial]:
            out: list[LeasedDial] = []
            for lane in LANES:
                want = limit - len(out)
                if want <= 0:
                    break
                rows = c.execute(
                    "SELECT id, source, dial_id, payload, attempts, received_at, kind FROM dials "  # noqa: S608
                    f"WHERE lane = ? AND due_at <= ?{filters} ORDER BY due_at, id LIMIT ?",
                    (lane, now if horizon is None else horizon, *params, *held, want),
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

        # a lease a power cut undoes only makes the dial due again: not worth an fsync
        return await self._writer.call(op, durable=False)

    async def ack(
        self, ids: Sequence[str], *, attempts: Mapping[str, Attempt] | None = None
    ) -> None:
        if not ids:
            return
        done = []  # a record keeps the payload as sent once the dials row is gone
        for i in ids:
            attempt = (attempts or {}).get(i)
            now = time.time() if attempt is None else attempt.at
            done.append((now, history.acked(attempt, now), int(i)))

        def op(c: sqlite3.Connection) -> None:
            c.executemany(
                "UPDATE history SET payload = (SELECT payload FROM dials WHERE dials.id = "
                "history.id), done_at = ?, events = events || ? WHERE id = ?",
                done,
            )
            c.executemany("DELETE FROM dials WHERE id = ?", [(int(i),) for i in ids])

        # an ack a power cut undoes sends the dial again with its dial_id (outboundIQ dedupes
        # it): not worth an fsync; a later durable commit fsyncs it (WAL order)
        await self._writer.call(op, durable=False)

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        event, last4 = history.resolved(time.time()), history.phone_last4(payload, kind)

        def op(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE dials SET payload = ?, kind = ? WHERE id = ?",
                (payload, kind, int(queue_id)),
            )
            c.execute(
                "UPDATE history SET events = events || ?, phone4 = ? WHERE id = ?",
                (event, last4, int(queue_id)),
            )

        await self._writer.call(op)

    async def retry(
        self, queue_id: str, due_at: float, error: str, *, attempt: Attempt | None = None
    ) -> None:
        now = time.time() if attempt is None else attempt.at
        events = history.retried(attempt, due_at, error, now)

        def op(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE dials SET leased = 0, due_at = ?, last_error = ? WHERE id = ?",
                (due_at, error[:500], int(queue_id)),
            )
            note(c, int(queue_id), events)

        await self._writer.call(op)

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
        held = "id IN (SELECT queue_id FROM holding WHERE until > ?)"

        def op(c: sqlite3.Connection) -> int:
            # A held first leg (coalesce) is due at the end of its window, not now.
            c.execute(
                "UPDATE dials SET due_at = (SELECT until FROM holding WHERE queue_id = dials.id) "  # noqa: S608
                f"WHERE leased = 0 AND {held}{clause}",
                (now, *params),
            )
            return c.execute(
                f"UPDATE dials SET due_at = ? WHERE leased = 0 AND due_at > ? AND NOT {held}"  # noqa: S608
                f"{clause}",
                (now, now, now, *params),
            ).rowcount

        return await self._writer.call(op)

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
        self,
        queue_id: str,
        *,
        reason: str,
        status: int | None,
        response_body: str,
        now: float,
        attempt: Attempt | None = None,
    ) -> None:
        events = history.dead_lettered(attempt, reason, status, now)

        def op(c: sqlite3.Connection) -> None:
            cur = c.execute(
                "INSERT INTO dead (source, dial_id, payload, attempts, received_at, dead_at, "
                "reason, status, response_body, kind) SELECT source, dial_id, payload, attempts, "
                "received_at, ?, ?, ?, ?, kind FROM dials WHERE id = ?",
                (now, reason, status, response_body[:4000], int(queue_id)),
            )
            if cur.rowcount:  # the record points at the dead letter, which holds the payload
                c.execute(
                    "UPDATE history SET dead = ?, events = events || ? WHERE id = ?",
                    (cur.lastrowid, events, int(queue_id)),
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
