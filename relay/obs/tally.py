"""Counts of outcomes per source and minute, kept in memory until written to the queue.

``OutcomeTally.count(source, outcome)`` runs on every webhook answer and every delivery
outcome, so it is one dict increment (the key tuple is its only allocation); it knows no
time. ``take`` (about once a second, by the flusher: ``relay.core.activity``) hands over what
was counted since the last take, dated to the minute of the take, so a count may land in the
minute after the one it happened in by up to one flush interval. A write that failed gives
its rows back (``put_back``): they are written with the next take, kept for at most
``ACTIVITY_KEEP_SECONDS`` and ``max_rows`` rows (beyond that the oldest minutes go, counted
in ``dropped``). ``pending`` is what is not written yet (for reads that must show it at once).

``webhook(source)`` notes when a source's last authenticated webhook arrived (the moment of
``relay_source_last_webhook_timestamp_seconds``), handed over the same way.

Everything here runs on the event loop (no locking inside); ``lock`` is for the flusher and
readers (``relay.core.activity``), so that a read never sees rows both stored and pending.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["ACTIVITY_KEEP_SECONDS", "CountRow", "OutcomeTally", "minute_of"]

#: How long a minute's counts are kept (the stores' retention; a day's view plus slack).
ACTIVITY_KEEP_SECONDS = 25 * 3600
_MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class CountRow:
    """``count`` outcomes ``outcome`` of ``source`` in the minute that starts at ``minute``
    (Unix time, a multiple of 60)."""

    minute: int
    source: str
    outcome: str
    count: int


def minute_of(at: float) -> int:
    """The start of the minute ``at`` is in (Unix time, a multiple of 60)."""
    return int(at // 60) * 60


class OutcomeTally:
    """This process's counts not yet written, and its sources' last-webhook times."""

    def __init__(self, *, max_rows: int = _MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.dropped = 0  # counts given up (older than the retention, or beyond max_rows)
        self.lock = asyncio.Lock()
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)
        self._seen: dict[str, float] = {}
        self._held: dict[tuple[int, str, str], int] = {}  # given back after a failed write
        self._held_seen: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"OutcomeTally(counting={len(self._counts)}, held={len(self._held)})"

    def count(self, source: str, outcome: str) -> None:
        """One ``outcome`` of ``source`` (a webhook's answer, or a delivery's outcome)."""
        self._counts[source, outcome] += 1

    def webhook(self, source: str, at: float | None = None) -> None:
        """``source``'s webhook passed authentication at ``at`` (default: now)."""
        self._seen[source] = time.time() if at is None else at

    def take(self, *, now: float) -> list[CountRow]:
        """Everything counted since the last take (dated to ``now``'s minute), with the rows
        given back before; the tally holds none of it after."""
        counts, self._counts = self._counts, defaultdict(int)
        rows, self._held = self._held, {}
        _add(rows, minute_of(now), counts)
        return [CountRow(m, s, o, n) for (m, s, o), n in rows.items()]

    def take_last_webhooks(self) -> dict[str, float]:
        """Last-webhook times noted since the last take (with those given back before)."""
        seen, self._seen = self._seen, {}
        held, self._held_seen = self._held_seen, {}
        return _latest(held, seen)

    def put_back(
        self, rows: Iterable[CountRow], last_webhooks: Mapping[str, float], *, now: float
    ) -> int:
        """Keep what a failed write took, for the next take; how many counts were given up
        (older than ``ACTIVITY_KEEP_SECONDS``, or the oldest beyond ``max_rows`` rows)."""
        held = self._held
        oldest = now - ACTIVITY_KEEP_SECONDS
        lost = 0
        for r in rows:
            if r.minute < oldest:
                lost += r.count
                continue
            key = (r.minute, r.source, r.outcome)
            held[key] = held.get(key, 0) + r.count
        if len(held) > self.max_rows:
            for key in sorted(held)[: len(held) - self.max_rows]:
                lost += held.pop(key)
        self._held_seen = _latest(self._held_seen, last_webhooks)
        self.dropped += lost
        return lost

    def pending(self, *, now: float) -> list[CountRow]:
        """What is counted and not written yet (the current counts dated to ``now``'s
        minute), without taking it."""
        rows = dict(self._held)
        _add(rows, minute_of(now), self._counts)
        return [CountRow(m, s, o, n) for (m, s, o), n in rows.items()]

    def pending_last_webhooks(self) -> dict[str, float]:
        """Last-webhook times not written yet, without taking them."""
        return _latest(self._held_seen, self._seen)


def _add(
    rows: dict[tuple[int, str, str], int], minute: int, counts: Mapping[tuple[str, str], int]
) -> None:
    for (source, outcome), n in counts.items():
        key = (minute, source, outcome)
        rows[key] = rows.get(key, 0) + n


def _latest(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    """Both maps in one, the later time where a source is in both."""
    merged = dict(a)
    for source, at in b.items():
        if at > merged.get(source, 0.0):
            merged[source] = at
    return merged
