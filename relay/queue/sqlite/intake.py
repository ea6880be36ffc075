"""Storing a new dial on SQLite: its dedupe entry and its row (``enqueue`` and ``coalesce``).

Both run inside a writer operation, on the writer's connection.
"""

from __future__ import annotations

import sqlite3

from relay.queue import history
from relay.queue.models import NewDial

__all__ = ["SWEEP_EVERY", "insert_dial", "note", "remember", "start_history", "sweep_expired"]

SWEEP_EVERY = 5000  # stores between sweeps of expired dedupe (and holding) entries


def remember(c: sqlite3.Connection, dial: NewDial, seconds: float) -> bool:
    """Remember ``dial``'s id for ``seconds`` from its arrival; False when it is already
    remembered (a duplicate: nothing changed)."""
    now = dial.received_at
    cur = c.execute(
        "INSERT INTO seen (source, dial_id, expires_at) VALUES (?, ?, ?) "
        "ON CONFLICT (source, dial_id) DO UPDATE SET expires_at = excluded.expires_at "
        "WHERE seen.expires_at <= ?",
        (dial.source, dial.dial_id, now + seconds, now),
    )
    return cur.rowcount != 0


def insert_dial(c: sqlite3.Connection, dial: NewDial, due_at: float) -> int:
    """Store ``dial``'s row, due at ``due_at``; its queue id."""
    cur = c.execute(
        "INSERT INTO dials (source, dial_id, payload, lane, received_at, due_at, kind) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            dial.source,
            dial.dial_id,
            dial.payload,
            dial.lane,
            dial.received_at,
            due_at,
            dial.kind,
        ),
    )
    return int(cur.lastrowid or 0)


def start_history(c: sqlite3.Connection, queue_id: int, dial: NewDial) -> None:
    """Start the history of ``dial``, just stored as ``queue_id`` (``relay.queue.history``).

    A plain ``INSERT``: ``queue_id`` is new (``dials.id`` is ``AUTOINCREMENT``, in every file
    the relay has written, so no id is ever handed out twice), and checking for a record to
    replace cost 1.6 % of a webhook's instructions (docs/benchmarks.md)."""
    c.execute(
        "INSERT INTO history (id, source, dial_id, received_at, phone4, events) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            queue_id,
            dial.source,
            dial.dial_id,
            dial.received_at,
            history.phone_last4(dial.payload, dial.kind),
            history.received(dial),
        ),
    )


def note(c: sqlite3.Connection, queue_id: int, events: str) -> None:
    """Append ``events`` to the history of ``queue_id``, if it keeps one."""
    c.execute("UPDATE history SET events = events || ? WHERE id = ?", (events, queue_id))


def sweep_expired(c: sqlite3.Connection, now: float) -> None:
    """Forget dedupe entries, and held legs' windows, that have expired by ``now``."""
    c.execute("DELETE FROM seen WHERE expires_at <= ?", (now,))
    c.execute("DELETE FROM holding WHERE until <= ?", (now,))
