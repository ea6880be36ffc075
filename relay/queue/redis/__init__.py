"""The shared queue: Redis Streams and one consumer group, so N replicas share the work.

Due dials are entries in a lane stream (live, then backfill); the consumer group hands each
entry to one replica (``XREADGROUP``), where it stays pending until the dial has an outcome.
``XACK`` (with ``XDEL``) happens only when outboundIQ accepted the dial, or in the same Lua
script that moves it to the delayed set (a retry) or the dead-letter store, so a dial is
always somewhere. A replica that dies leaves its entries pending; any other takes them over
with ``XAUTOCLAIM`` once they have been idle for the visibility timeout, and an entry handed
out more than ``max_deliveries`` times without an outcome (``XPENDING`` delivery count) is
dead-lettered as poison. Retries wait in a sorted set and move back to their lane when due.
Every multi-key change is one Lua script (``lua/*.lua``, loaded by ``scripts``), so it is
atomic.

Time: due times use the caller's clock, like SQLite. Lease expiry is Redis's own idle time
of the pending entry, so a lease expires after ``visibility`` real seconds whatever ``now``
the caller passes.

If Redis restarts empty or the group disappears, the next operation recreates the group
(``NOGROUP`` is recovered, not looped on); while Redis cannot be reached every operation
raises ``QueueUnavailable`` (intake answers 503) and ``ping()`` is False (``/readyz``).

Intake's scripts are pipelined: those that arrive while the previous pipeline is on its
way (or, when none is, in the same event-loop turn) share one round trip (``pipelining``),
on a bounded connection pool that makes a busy caller wait, not fail.

Modules: ``connection`` (client and pool, errors, server checks), ``pipelining``
(intake's group commit: one pipeline in flight), ``leasing`` and ``delivery`` (the
delivery path), ``dead`` and ``rejected`` (the operator's stores, over ``records``),
``health``, ``history`` (each dial's timeline), ``activity`` (outcome counts per
minute), ``events`` (the replicas' live-event channel, pub/sub); ``RedisStreamQueue``
(``queue``) combines them.
"""

from __future__ import annotations

from relay.queue.redis.connection import server_warnings
from relay.queue.redis.queue import RedisStreamQueue

__all__ = ["RedisStreamQueue", "server_warnings"]
