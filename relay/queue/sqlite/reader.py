"""Read-only queries on their own connection, off the writer thread.

WAL lets a reader see a consistent snapshot while the writer commits, so a slow scan (the
counts behind /metrics with a million-dial backlog) never holds up intake's commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from relay.exceptions import QueueError, QueueUnavailable

__all__ = ["SqliteReader"]

T = TypeVar("T")


class SqliteReader:
    """One read-only connection (opened at the first read), used by one query at a time."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._open = False
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SqliteReader({str(self.path)!r})"

    def open(self) -> None:
        """Accept reads from now on (the file must exist: the writer creates it)."""
        self._open = True

    def close(self) -> None:
        """Refuse reads from now on, and close the connection (after a read in progress)."""
        self._open = False
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the read connection in a worker thread; a ``sqlite3.Error`` it raises
        becomes ``QueueError``."""
        if not self._open:
            raise QueueUnavailable("queue is not open")

        def run() -> T:
            with self._lock:
                if self._conn is None:
                    self._conn = sqlite3.connect(
                        self.path, isolation_level=None, check_same_thread=False
                    )
                    self._conn.execute("PRAGMA busy_timeout=10000")
                return fn(self._conn)

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise QueueError(f"queue read failed: {exc}") from exc
