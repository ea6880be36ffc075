"""The embedded queue: one SQLite file in WAL mode, no server.

Every write runs on one writer thread that owns the connection (``writer``): the operations
the event loop's tasks submit during one turn of the loop are handed over together, run in one
transaction and committed once (group commit, ``transaction``), with ``synchronous=FULL``, so
a dial is durable before its 202 (the forwarder's leases and acks alone skip the fsync: see
``writer``). Read-only queries (stats, listings, dedupe look-ups) run on
a connection of their own (``reader``) and never hold up the writer.

The roles of ``DialQueue`` each have a module: ``delivery``, ``dead``, ``rejected``,
``health``, ``history``, ``activity``; ``SqliteQueue`` (``queue``) combines them. The file's
tables are in ``schema``.
"""

from __future__ import annotations

from relay.queue.sqlite.queue import SqliteQueue
from relay.queue.sqlite.reader import SqliteReader
from relay.queue.sqlite.writer import SqliteWriter

__all__ = ["SqliteQueue", "SqliteReader", "SqliteWriter"]
