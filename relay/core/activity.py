"""Each source's recent activity across the cluster: outcome counts, last webhook time.

Every process counts its own outcomes in an ``OutcomeTally`` (``relay.obs.tally``);
``ActivityFlusher`` writes them to the queue's ``ActivityStore`` about once a second (and
once more at shutdown), where every replica's counts add up. ``source_activity`` reads the
stored counts of the last hour and day and adds this process's counts not written yet, so a
webhook shows at once on the replica that answered it (and within a flush interval on the
others). The tally's lock keeps a flush and a read apart: a count is never read twice (stored
and pending) nor missed.

While the queue cannot be written, the counts wait in the tally (bounded: see
``OutcomeTally.put_back``) and are written with the next flush that succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from relay.exceptions import QueueError
from relay.obs.tally import CountRow, OutcomeTally, minute_of
from relay.queue.base import ActivityStore, ReplicaDirectory

__all__ = [
    "BEAT_SECONDS",
    "FLUSH_SECONDS",
    "Activity",
    "ActivityFlusher",
    "flush_activity",
    "source_activity",
]

log = structlog.get_logger("relay.core.activity")

FLUSH_SECONDS = 1.0
#: How often a replica announces itself on a queue that keeps a ``ReplicaDirectory``.
BEAT_SECONDS = 5.0
HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Activity:
    """``hour`` and ``day``: source → outcome → count in the last 60 minutes and 24 hours
    (whole minutes, the current one included); ``last_webhook``: source → when its last
    authenticated webhook arrived (Unix time), for the sources that sent one."""

    hour: dict[str, dict[str, int]]
    day: dict[str, dict[str, int]]
    last_webhook: dict[str, float]


async def source_activity(queue: ActivityStore, tally: OutcomeTally, *, now: float) -> Activity:
    """The cluster's counts (as stored) plus this process's not yet flushed, as of ``now``."""
    end = minute_of(now) + 60
    async with tally.lock:  # no flush between the reads and the pending counts
        day, hour, stored_seen = await asyncio.gather(
            queue.activity(since=end - DAY, until=end),
            queue.activity(since=end - HOUR, until=end),
            queue.last_webhooks(),
        )
        pending = tally.pending(now=now)
        seen = tally.pending_last_webhooks()
    for start, totals in ((end - DAY, day), (end - HOUR, hour)):
        for r in pending:
            if start <= r.minute < end:
                totals[r.source, r.outcome] = totals.get((r.source, r.outcome), 0) + r.count
    last = dict(stored_seen)
    for source, at in seen.items():
        last[source] = max(at, last.get(source, 0.0))
    return Activity(hour=_by_source(hour), day=_by_source(day), last_webhook=last)


async def flush_activity(queue: ActivityStore, tally: OutcomeTally, *, now: float) -> int:
    """Write what ``tally`` counted since the last flush; how many rows. On an error the
    rows go back to the tally (for the next flush) and the error is raised."""
    async with tally.lock:
        rows = tally.take(now=now)
        seen = tally.take_last_webhooks()
        if not rows and not seen:
            return 0
        try:
            await queue.add_activity(rows, seen)
        except BaseException:  # cancelled mid-write too: a count may be stored twice, not lost
            _give_back(tally, rows, seen, now)
            raise
        return len(rows)


class ActivityFlusher:
    """Flushes ``tally`` to ``queue`` every ``every`` seconds (``run``) until ``stop``, which
    flushes once more. On a queue that is a ``ReplicaDirectory`` it also announces
    ``replica`` every ``BEAT_SECONDS`` (the console lists the cluster's replicas from it)."""

    def __init__(
        self,
        queue: ActivityStore,
        tally: OutcomeTally,
        *,
        every: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
        replica: str | None = None,
    ) -> None:
        self.queue = queue
        self.tally = tally
        self.replica = replica
        self._beaten = float("-inf")
        self.every = every
        self.clock = clock
        self.failing = False
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every)
            await self.flush()
            if self._stop.is_set():  # that was the last one
                return
            await self.beat()

    async def flush(self) -> None:
        """One flush; a queue error is logged (once until a flush succeeds again)."""
        try:
            await flush_activity(self.queue, self.tally, now=self.clock())
        except QueueError as exc:
            if not self.failing:
                log.warning("activity_flush_failed", error=str(exc))
            self.failing = True
            return
        except Exception:  # a bug here must not stop the counting: the next flush tries again
            log.exception("activity_flush_crashed")
            return
        if self.failing:
            log.info("activity_flush_recovered")
        self.failing = False

    async def beat(self) -> None:
        """Announce this replica, when it is time to and the queue keeps a directory."""
        queue, now = self.queue, self.clock()
        if not (self.replica and isinstance(queue, ReplicaDirectory)):
            return
        if now - self._beaten < BEAT_SECONDS:
            return
        self._beaten = now
        with contextlib.suppress(QueueError):  # the flush logs the queue's trouble
            await queue.beat(self.replica, now=now)

    def stop(self) -> None:
        """Make ``run`` flush once more and return."""
        self._stop.set()


def _give_back(
    tally: OutcomeTally, rows: list[CountRow], seen: Mapping[str, float], now: float
) -> None:
    lost = tally.put_back(rows, seen, now=now)
    if lost:
        log.warning("activity_counts_dropped", counts=lost, dropped_total=tally.dropped)


def _by_source(totals: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (source, outcome), n in sorted(totals.items()):
        if n:
            out.setdefault(source, {})[outcome] = n
    return out
