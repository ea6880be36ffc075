"""Read-only queries on their own connection, off the writer thread.

WAL lets a reader see a consistent snapshot while the writer commits, so a slow scan (the
counts behind /metrics with a million-dial backlog) never holds up intake's commits.

A reader built ``read_only`` (the operator commands that only look: ``queue stats``, ``dlq
list``...) opens the file with SQLite's ``mode=ro``: SQLite itself refuses every write on
that connection, so the queue file is never changed, nor a WAL checkpointed into it. SQLite
may still create the empty ``-wal``/``-shm`` companions WAL reading needs when they are missing
and the folder is writable. When they are missing and cannot be created (a read-only folder),
nobody has the file open for writing, and it is read as it is (``immutable=1``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from relay.exceptions import QueueError, QueueUnavailable

__all__ = ["SqliteReader"]

T = TypeVar("T")


class SqliteReader:
    """One connection for reads (opened at the first read), used by one query at a time;
    with ``read_only``, SQLite opens it read-only, so nothing can write through it."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
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
                    self._conn = self._connect()
                return fn(self._conn)

        try:
            return await asyncio.to_thread(run)
        except sqlite3.Error as exc:
            raise QueueError(f"queue read failed: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            return conn
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        conn = _uri_connection(uri)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            conn.close()
            wal = self.path.with_name(self.path.name + "-wal")
            if exc.sqlite_errorname != "SQLITE_READONLY_DIRECTORY" or wal.exists():
                raise
            conn = _uri_connection(uri + "&immutable=1")  # see the module's docstring
        return conn


def _uri_connection(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn
