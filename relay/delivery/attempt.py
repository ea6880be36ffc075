"""One attempt at one leased item: too old, a job to resolve first, no key, or a POST.

``Deliverer.deliver`` is what the worker runs for each leased item. A dial older than
``RELAY_MAX_AGE_SECONDS`` is dead-lettered; a mapping job is resolved first
(``relay.delivery.resolver``); a source without a key waits a probe period; otherwise the
dial is POSTed (``relay.delivery.poster``), the answer is counted by the destination circuit
and handed to ``relay.delivery.outcomes``. In dry-run mode nothing is sent: the dial is logged
as it would have been sent (``dial_forwarded`` with ``dry_run`` and the ``payload``, phone
numbers masked) and acked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.delivery.circuit import Circuit
from relay.delivery.outcomes import Outcomes
from relay.delivery.poster import Poster
from relay.delivery.resolver import Resolver
from relay.obs.events import masked_payload
from relay.queue.base import LeasedDial

__all__ = ["Deliverer"]

log = structlog.get_logger("relay.delivery.attempt")


@dataclass(kw_only=True, eq=False)
class Deliverer:
    """Makes one attempt at a leased item; ``sources`` gives the current sources."""

    poster: Poster
    outcomes: Outcomes
    resolver: Resolver
    circuit: Circuit
    settings: Settings
    sources: Callable[[], Mapping[str, Source]]
    clock: Callable[[], float] = time.time

    async def deliver(self, dial: LeasedDial) -> None:
        """Attempt ``dial`` once; the outcome is in the queue when this returns."""
        now = self.clock()
        source = self.sources().get(dial.source)
        key = source.api_key if source is not None else None
        if now - dial.received_at > self.settings.max_age_seconds:
            await self.outcomes.dead(dial, reason="max_age_exceeded")
            return
        if dial.kind != "dial":  # a mapping job (e.g. a Genesys conversation): resolve it first
            resolved = await self.resolver.resolve(dial)
            if resolved is None:
                return
            dial = resolved
        if key is None and not self.settings.dry_run:
            reason = "unknown_source" if source is None else "no_api_key"
            log.error(
                "dial_waiting_for_key", source=dial.source, dial_id=dial.dial_id, reason=reason
            )
            await self.outcomes.park(dial, reason=reason, now=now)
            return
        if self.settings.dry_run:
            log.info(
                "dial_forwarded",
                dry_run=True,
                source=dial.source,
                dial_id=dial.dial_id,
                attempt=dial.attempts,
                payload=masked_payload(dial.payload),
            )
            await self.outcomes.delivered(dial, detail="dry run: not sent")
            return
        assert key is not None
        result = await self.poster.post(dial, key)
        if self.circuit.record(result.status, now=self.clock()):
            self.outcomes.recovered()
        await self.outcomes.posted(dial, key, result)
