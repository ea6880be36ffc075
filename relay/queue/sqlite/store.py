"""What every role of the SQLite queue works through: the writer and the reader."""

from __future__ import annotations

from typing import Any

from relay.queue.sqlite.reader import SqliteReader
from relay.queue.sqlite.writer import SqliteWriter

__all__ = ["SqliteStore", "int_id", "where_clause"]


class SqliteStore:
    """Writes go through ``writer`` (group commits), read-only queries through ``reader``.

    Each role (delivery, dead letters, rejected requests, health, history) is a subclass; a
    role can be used on its own, over a writer and reader that its owner opens and closes.
    ``history``: whether a new dial's history is recorded (``relay.queue.history``); a record
    once started follows its dial either way.
    """

    def __init__(self, writer: SqliteWriter, reader: SqliteReader, *, history: bool = True) -> None:
        self._writer = writer
        self._reader = reader
        self.history = history


def int_id(value: str) -> int:
    """A record id as SQLite stores it; -1 (matches nothing) when it is not a number."""
    try:
        return int(value)
    except ValueError:
        return -1


def where_clause(*conditions: tuple[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``" WHERE source = ? AND dead_at < ?"`` and its parameters, from ``(sql, value)``
    pairs; a pair whose value is None is left out (no conditions: ``""``)."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(sql for sql, _ in used), tuple(v for _, v in used)
