"""Resolving mapping jobs: a leased item whose ``kind`` is not ``"dial"`` becomes a dial here.

The forwarder calls ``Resolver.resolve`` before it sends an item. The source's mapping (a
``ResolvingMapping``) reads the job (e.g. a Genesys conversation through Genesys' API), the
relay builds and normalizes the dial, the queue item's payload is replaced by the dial (so a
later retry of the POST does not resolve again), and the forwarder POSTs it as usual.

When resolution fails, nothing is lost (``relay.delivery.outcomes`` moves the job on):

==========================  =========================================================
``ResolveError``            retried with the delivery backoff (``Retry-After`` honoured)
``ResolveAuthError``        the source is held like a refused outboundIQ key: its items
                            wait, one probes every ``RELAY_KEY_PROBE_SECONDS``
``MappingError``            dead-lettered (``resolve_unmappable``) with the problems
older than the mapping's    dead-lettered (``resolve_timeout``) with the last error
``resolve_timeout``
==========================  =========================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping

import structlog

from relay.core.mapping import PendingJob, ResolvingMapping
from relay.core.pipeline import dial_from_fields
from relay.core.screening import Finding
from relay.core.sources import Source
from relay.delivery.holds import vendor_hold
from relay.delivery.outcomes import Outcomes
from relay.exceptions import MappingError, ResolveAuthError, ResolveError
from relay.queue.base import DeliveryQueue, LeasedDial

__all__ = ["Resolver", "close_mappings"]

log = structlog.get_logger("relay.delivery.resolver")


@dataclasses.dataclass(kw_only=True, eq=False)
class Resolver:
    """Turns leased mapping jobs into dials; ``sources`` gives the current sources."""

    outcomes: Outcomes
    queue: DeliveryQueue
    sources: Callable[[], Mapping[str, Source]]
    clock: Callable[[], float] = time.time

    async def resolve(self, item: LeasedDial) -> LeasedDial | None:
        """The item as a plain dial, or None when it was rescheduled, held or dead-lettered."""
        now = self.clock()
        source = self.sources().get(item.source)
        mapping = source.mapping if source is not None else None
        if source is None or not isinstance(mapping, ResolvingMapping):
            reason = "unknown_source" if source is None else "mapping_cannot_resolve"
            log.error("job_unresolvable", source=item.source, dial_id=item.dial_id, reason=reason)
            await self.outcomes.park(item, reason=reason, now=now)
            return None
        job = PendingJob(item.kind, item.dial_id, item.payload, item.received_at, item.attempts)
        fields = {"source": item.source, "dial_id": item.dial_id, "kind": item.kind}
        found: list[Finding] = []
        try:
            result = await mapping.resolve(job, source.context)
            dial = dial_from_fields(
                source, result.fields, unrendered=result.unrendered, on_findings=found.extend
            )
        except ResolveAuthError as exc:
            await self._hold(item, str(exc))
            return None
        except ResolveError as exc:
            await self._retry_or_expire(item, mapping, exc.reason, str(exc), exc.retry_after)
            return None
        except MappingError as exc:
            log.error("job_dead_lettered", **fields, reason="resolve_unmappable", error=str(exc))
            await self.outcomes.dead(item, reason="resolve_unmappable", body=str(exc))
            return None
        except Exception as exc:  # a mapping bug: keep the job, retry until it expires
            log.exception("job_resolve_crashed", **fields)
            await self._retry_or_expire(item, mapping, "crashed", repr(exc), None)
            return None
        payload = dial.to_wire()
        await self.queue.replace_payload(item.id, payload, "dial")
        warnings = [*result.warnings, *(f.warning for f in found)]
        log.info("job_resolved", **fields, attempt=item.attempts, warnings=warnings or None)
        await self._release_hold(item.source)
        return dataclasses.replace(item, payload=payload, kind="dial")

    async def _retry_or_expire(
        self,
        item: LeasedDial,
        mapping: ResolvingMapping,
        reason: str,
        error: str,
        retry_after: float | None,
    ) -> None:
        now = self.clock()
        fields = {"source": item.source, "dial_id": item.dial_id, "kind": item.kind}
        if now - item.received_at >= mapping.resolve_timeout:
            log.error("job_dead_lettered", **fields, reason="resolve_timeout", error=error)
            await self.outcomes.dead(item, reason="resolve_timeout", body=f"{reason}: {error}")
            return
        delay = self.outcomes.retry_delay(item, retry_after)
        log.warning(
            "job_retry_scheduled", **fields, reason=reason, error=error, retry_in=round(delay, 3)
        )
        await self.outcomes.retry(item, now + delay, reason=f"resolve_{reason}", error=error)

    async def _hold(self, item: LeasedDial, error: str) -> None:
        """Hold the source like a refused outboundIQ key (same probing, same release)."""
        now = self.clock()
        until = self.outcomes.next_probe(now)
        log.error(
            "vendor_credentials_refused",
            source=item.source,
            error=error,
            probe_in=round(until - now, 3),
        )
        await self.outcomes.hold(
            item,
            key=vendor_hold(item.source),
            sources=frozenset({item.source}),
            status=401,
            reason="resolve_credentials_held",
            error=error,
            until=until,
        )

    async def _release_hold(self, source: str) -> None:
        if self.outcomes.release(vendor_hold(source)) is None:
            return
        log.info("vendor_credentials_resumed", source=source)
        await self.outcomes.lift(frozenset({source}))


async def close_mappings(sources: Iterable[Source]) -> None:
    """Close the clients of resolving mappings (at shutdown)."""
    for source in sources:
        if isinstance(source.mapping, ResolvingMapping):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.mapping.aclose(), 5)
