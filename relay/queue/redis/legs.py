"""Legs of one call on Redis: the first leg held, later legs merged into it (``coalesce``).

``hold`` (one script) either stores the first leg, held in the delayed set until the end of
its window, or hands back the held dial a later leg merges into. The merge itself is the
caller's function, so it runs here, between two scripts; ``merge_leg`` then swaps the payload
only if no other leg merged meanwhile (the held leg's version is unchanged), else hands back
the newer payload to merge onto. Two legs arriving at once on two replicas both end merged,
in the order their swaps succeeded; each round that fails does so because another leg's
succeeded, so the loop always ends.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from redis.asyncio import Redis

from relay.exceptions import QueueError
from relay.queue.models import LegMerge, LegOutcome, NewDial
from relay.queue.redis.leasing import RedisLeasing

__all__ = ["RedisLegs"]

_ROUNDS = 100  # merge attempts per leg: each failed one means another leg's succeeded
_HOLD_SLACK_MS = 600_000  # the held-leg record outlives its window by this (clocks differ)


def _held_ttl_ms(window: float) -> int:
    """How long the held-leg record lives: its window, and some slack for clocks that differ."""
    return int(window * 1000) + _HOLD_SLACK_MS


class RedisLegs(RedisLeasing):
    """``coalesce`` with the ``hold`` and ``merge_leg`` scripts."""

    def _seen_key(self, source: str, dial_id: str) -> str:
        return f"{self.base}:seen:{len(source)}:{source}:{dial_id}"

    def _store_args(self, dial: NewDial, due: float, dedupe_seconds: float) -> list[Any]:
        """What ``enqueue.lua`` (and ``hold.lua``, first) takes to store ``dial``, due at ``due``
        and remembered for ``dedupe_seconds``."""
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

    def _held_key(self, source: str, dial_id: str) -> str:
        return f"{self.base}:held:{len(source)}:{source}:{dial_id}"

    async def coalesce(
        self, dial: NewDial, dedupe_seconds: float, *, window: float, merge: LegMerge
    ) -> LegOutcome:
        held = self._held_key(dial.source, dial.dial_id)
        remember = max(dedupe_seconds, window)
        until = dial.received_at + window
        due = max(dial.received_at if dial.due_at is None else dial.due_at, until)
        args = [*self._store_args(dial, due, remember), repr(until), _held_ttl_ms(window)]
        keys = [self.base, self._seen_key(dial.source, dial.dial_id), held]
        reply: list[Any] = await self._grouped("hold", keys, args)
        if int(reply[0]) == 0:
            return "duplicate"
        if int(reply[0]) == 1:
            return "queued"
        queue_id, payload, version = reply[1], bytes(reply[2]), reply[3]
        for _ in range(_ROUNDS):
            swap = [queue_id, version, merge(payload, dial.payload), repr(dial.received_at)]
            reply = await self._op(partial(self._swap, held, swap))
            if int(reply[0]) == 1:
                return "coalesced"
            if int(reply[0]) == 0:
                return "duplicate"
            payload, version = bytes(reply[1]), reply[2]
        raise QueueError(f"a leg of {dial.source}/{dial.dial_id} could not merge: too many at once")

    async def _swap(self, held: str, args: list[Any], _client: Redis) -> Any:
        return await self._scripts["merge_leg"](keys=[self.base, held], args=args)
