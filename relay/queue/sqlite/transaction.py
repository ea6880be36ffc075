"""One group commit: a batch of operations in one transaction, each with its own outcome.

Each operation runs bare in the transaction (no SAVEPOINT: two statements fewer each). If
one fails, the whole transaction is rolled back and the batch runs again with each operation
in its own SAVEPOINT, so one failure does not undo the others. An operation may therefore
run twice, the first run rolled back: it must touch nothing but the connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from relay.exceptions import QueueUnavailable

__all__ = ["Outcome", "rollback", "transact"]

# An operation's outcome: (value, None) or (None, the exception it raised).
Outcome = tuple[Any, BaseException | None]


def transact(
    conn: sqlite3.Connection, fns: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[Outcome]:
    """Run ``fns`` in one transaction and commit it: each one's value or exception.

    The fast path runs them bare. When one raises, the transaction is rolled back and they
    all run again, each in its own SAVEPOINT, so that only the failing ones are undone.
    """
    begun = _begin(conn, len(fns))
    if begun is not None:
        return begun
    outcomes: list[Outcome] = []
    for fn in fns:
        try:
            outcomes.append((_run_op(conn, fn), None))
        except Exception:
            rollback(conn)
            return _transact_isolated(conn, fns)
    return _commit(conn, outcomes)


def _transact_isolated(
    conn: sqlite3.Connection, fns: Sequence[Callable[[sqlite3.Connection], Any]]
) -> list[Outcome]:
    begun = _begin(conn, len(fns))
    if begun is not None:
        return begun
    outcomes: list[Outcome] = []
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
                rollback(conn)  # cannot undo just this one: undo them all
            if not conn.in_transaction:
                # SQLite gave up the whole transaction (I/O error, disk full): nothing in
                # this batch is stored, so no caller may be told otherwise.
                lost = QueueUnavailable(f"queue transaction rolled back: {exc}")
                return [(None, lost)] * len(fns)
            outcomes.append((None, exc))
    return _commit(conn, outcomes)


def _begin(conn: sqlite3.Connection, count: int) -> list[Outcome] | None:
    """``BEGIN IMMEDIATE`` (it may wait up to busy_timeout); the failed outcomes if it fails."""
    rollback(conn)  # a transaction left over by an earlier failure must not swallow this one
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [(None, QueueUnavailable(f"queue unavailable: {exc}"))] * count
    return None


def _commit(conn: sqlite3.Connection, outcomes: list[Outcome]) -> list[Outcome]:
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        rollback(conn)
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


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any (an error doing so is ignored)."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
