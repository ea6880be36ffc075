"""Retention: the rejected store's limits, and how long a settled dial's history is kept.

A request that could not be mapped is kept raw so it can be replayed after a fix. Unbounded,
that store grows as long as a dialer (or whoever holds a source's secret) sends what cannot
be mapped. ``RejectedRetention`` keeps it within ``RELAY_REJECTED_MAX_AGE_SECONDS`` and
``RELAY_REJECTED_MAX_RECORDS`` on every queue backend (``RejectedStore.trim_rejected``):
after each request it keeps (so a flood never runs far past the cap) and once a minute (so
old records go even when nothing new arrives). Every drop is counted
(``relay_rejected_dropped_total{reason}``, reason ``age`` or ``count``) and logged
(``rejected_dropped``, a warning): the relay never drops silently.

``HistoryRetention`` keeps each dial's history (``DialHistory``) for
``RELAY_DIAL_HISTORY_SECONDS`` after the dial settled (delivered, or purged from the
dead-letter store), once a minute; a dial still in the queue or the dead-letter store keeps
its history. With 0 (history off) nothing new is recorded, and what was goes as it settles.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from relay.exceptions import QueueError
from relay.queue.base import DialHistory, RejectedStore, RejectedTrim

__all__ = ["SWEEP_SECONDS", "HistoryRetention", "RejectedRetention"]

log = structlog.get_logger("relay.core.retention")

SWEEP_SECONDS = 60.0  # how often the limits are applied when nothing new is kept


class RejectedRetention:
    """Applies the rejected store's limits; ``dropped(reason, n)`` counts each drop."""

    def __init__(
        self,
        store: RejectedStore,
        *,
        max_age_seconds: float,
        max_records: int,
        dropped: Callable[[str, int], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_age_seconds = max_age_seconds  # 0: no age limit
        self.max_records = max_records  # 0: no cap
        self.dropped = dropped
        self.clock = clock
        self._task: asyncio.Task[None] | None = None
        self._again = False

    @property
    def enabled(self) -> bool:
        return self.max_age_seconds > 0 or self.max_records > 0

    async def trim(self) -> RejectedTrim:
        """Drop what is over the limits now; count and log what went."""
        if not self.enabled:
            return RejectedTrim()
        before = self.clock() - self.max_age_seconds if self.max_age_seconds > 0 else None
        keep = self.max_records if self.max_records > 0 else None
        trimmed = await self.store.trim_rejected(before=before, keep=keep)
        for reason, records, limit in (
            ("age", trimmed.age, f"older than {self.max_age_seconds:g} s"),
            ("count", trimmed.count, f"over {self.max_records} records"),
        ):
            if records:
                self.dropped(reason, records)
                log.warning("rejected_dropped", reason=reason, records=records, limit=limit)
        return trimmed

    def kept(self) -> None:
        """A request was just kept: apply the limits soon, in the background (one trim at a
        time; requests kept meanwhile are covered by one more)."""
        if not self.enabled:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._trim_while_asked())

    async def _trim_while_asked(self) -> None:
        self._again = True
        while self._again:
            self._again = False
            await self._trim_logged()

    async def _trim_logged(self) -> None:
        try:
            await self.trim()
        except QueueError as exc:  # the queue is down: the next sweep tries again
            log.warning("rejected_trim_failed", error=str(exc))

    async def sweep(self, every: float = SWEEP_SECONDS) -> None:
        """Apply the limits now and every ``every`` seconds, until cancelled."""
        while self.enabled:
            await self._trim_logged()
            await asyncio.sleep(every)

    async def close(self) -> None:
        """Cancel a trim in progress (its transaction or script is all or nothing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class HistoryRetention:
    """Drops dial history settled more than ``seconds`` ago (0: all that has settled)."""

    def __init__(
        self,
        store: DialHistory,
        *,
        seconds: float,
        clock: Callable[[], float] = time.time,
        max_calls: int = 100,
    ) -> None:
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self.max_calls = max_calls  # trim calls per pass (each one bounded by the backend)

    async def trim(self) -> int:
        """Drop what is past the retention now (up to ``max_calls`` batches); how many."""
        before = self.clock() - self.seconds
        dropped = 0
        for _ in range(self.max_calls):
            went = await self.store.trim_history(before=before)
            dropped += went
            if went == 0:
                break
            await asyncio.sleep(0)  # one batch at a time: intake goes on between them
        if dropped:
            log.debug("dial_history_trimmed", records=dropped, before=round(before, 3))
        return dropped

    async def sweep(self, every: float = SWEEP_SECONDS) -> None:
        """Apply the retention now and every ``every`` seconds, until cancelled."""
        while True:
            try:
                await self.trim()
            except QueueError as exc:  # the queue is down: the next sweep tries again
                log.warning("dial_history_trim_failed", error=str(exc))
            await asyncio.sleep(every)
