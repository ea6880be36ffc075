"""Legs of one call on Redis: the first leg held, later legs merged into it (``coalesce``).

``hold`` (one script) either stores the first leg, held in the delayed set until the end of
its window, or hands back the held dial a later leg merges into. The merge itself is the
caller's function, so it runs here, between two scripts; ``merge_leg`` then swaps the payload
only if no other leg merged meanwhile (the held leg's version is unchanged), else hands back
the newer payload to merge onto. Two legs arriving at once on two replicas both end merged,
in the order their swaps succeeded; each round that fails does so because another leg's
succeeded, so the loop always ends.

Storing a dial (here and in ``delivery``) goes through ``_store``: on a full Redis (maxmemory)
the history of dials settled longest ago gives way to the new dial (``dial_history_dropped``),
which is tried once more: dial history never costs a webhook its 202.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import structlog
from redis.asyncio import Redis

from relay.exceptions import QueueError, QueueUnavailable
from relay.queue import history
from relay.queue.models import LegMerge, LegOutcome, NewDial
from relay.queue.redis.leasing import RedisLeasing

__all__ = ["RedisLegs"]

log = structlog.get_logger("relay.queue.redis")

_ROUNDS = 100  # merge attempts per leg: each failed one means another leg's succeeded
_HOLD_SLACK_MS = 600_000  # the held-leg record outlives its window by this (clocks differ)


def _held_ttl_ms(window: float) -> int:
    """How long the held-leg record lives: its window, and some slack for clocks that differ."""
    return int(window * 1000) + _HOLD_SLACK_MS


class RedisLegs(RedisLeasing):
    """``coalesce`` with the ``hold`` and ``merge_leg`` scripts."""

    _room_made_at = 0.0  # when history last gave way to a dial (monotonic)
    _room_lock: asyncio.Lock | None = None

    def _seen_key(self, source: str, dial_id: str) -> str:
        return f"{self.base}:seen:{len(source)}:{source}:{dial_id}"

    def _store_args(self, dial: NewDial, due: float, dedupe_seconds: float) -> list[Any]:
        """What ``enqueue.lua`` (and ``hold.lua``, first and last) takes to store ``dial``, due
        at ``due`` and remembered for ``dedupe_seconds``; then its history's start."""
        return [
            dial.source,
            dial.dial_id,
            dial.payload,
            0 if dial.lane <= 0 else 1,
            repr(dial.received_at),
            repr(due),
            dial.kind,
            int(dedupe_seconds * 1000) if dedupe_seconds > 0 else 0,
            repr(dedupe_seconds),
        ]

    def _history_args(self, dial: NewDial) -> list[str]:
        """The history's first event and the number's last 4 digits ('': no history)."""
        if not self.history:
            return ["", ""]
        return [history.received(dial), history.phone_last4(dial.payload, dial.kind)]

    async def _store(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run the store script ``name`` in this turn's pipeline; on a full Redis, once more
        after the oldest settled history made room (if there was any to drop)."""
        try:
            return await self._grouped(name, keys, args)
        except QueueUnavailable as exc:
            if "maxmemory" not in str(exc) or not await self._make_room():
                raise
        return await self._grouped(name, keys, args)

    async def _make_room(self) -> bool:
        """Drop a batch of the history settled longest ago; whether there may be room now
        (the stores refused at the same moment share one batch)."""
        if self._room_lock is None:
            self._room_lock = asyncio.Lock()
        async with self._room_lock:
            if time.monotonic() - self._room_made_at < 1.0:
                return True
            args = ("1e300", history.TRIM_BATCH)  # whatever the time: settled longest ago
            dropped = int(await self._op(lambda _c: self._script("trim_history", *args)))
            if dropped:
                self._room_made_at = time.monotonic()
                log.warning("dial_history_dropped", records=dropped, reason="redis_full")
            return dropped > 0

    def _held_key(self, source: str, dial_id: str) -> str:
        return f"{self.base}:held:{len(source)}:{source}:{dial_id}"

    async def coalesce(
        self, dial: NewDial, dedupe_seconds: float, *, window: float, merge: LegMerge
    ) -> LegOutcome:
        held = self._held_key(dial.source, dial.dial_id)
        remember = max(dedupe_seconds, window)
        until = dial.received_at + window
        due = max(dial.received_at if dial.due_at is None else dial.due_at, until)
        args = [
            *self._store_args(dial, due, remember),
            repr(until),
            _held_ttl_ms(window),
            *self._history_args(dial),
        ]
        keys = [self.base, self._seen_key(dial.source, dial.dial_id), held]
        reply: list[Any] = await self._store("hold", keys, args)
        if int(reply[0]) == 0:
            return "duplicate"
        if int(reply[0]) == 1:
            return "queued"
        queue_id, payload, version = reply[1], bytes(reply[2]), reply[3]
        event = history.coalesced(dial.received_at)
        for _ in range(_ROUNDS):
            merged = merge(payload, dial.payload)
            swap = [queue_id, version, merged, repr(dial.received_at), event]
            reply = await self._op(partial(self._swap, held, swap))
            if int(reply[0]) == 1:
                return "coalesced"
            if int(reply[0]) == 0:
                return "duplicate"
            payload, version = bytes(reply[1]), reply[2]
        raise QueueError(f"a leg of {dial.source}/{dial.dial_id} could not merge: too many at once")

    async def _swap(self, held: str, args: list[Any], _client: Redis) -> Any:
        return await self._scripts["merge_leg"](keys=[self.base, held], args=args)
