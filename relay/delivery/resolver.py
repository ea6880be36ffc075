"""Resolving mapping jobs: a leased item whose ``kind`` is not ``"dial"`` becomes a dial here.

The forwarder calls ``resolve_job`` before it sends an item. The source's mapping (a
``ResolvingMapping``) reads the job (e.g. a Genesys conversation through Genesys' API), the
relay builds and normalizes the dial, the queue item's payload is replaced by the dial (so a
later retry of the POST does not resolve again), and the forwarder POSTs it as usual.

When resolution fails, nothing is lost:

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
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog

from relay.core.mapping import PendingJob, ResolvingMapping
from relay.core.pipeline import source_dial
from relay.delivery.policy import backoff_delay
from relay.exceptions import MappingError, ResolveAuthError, ResolveError
from relay.queue.base import LeasedDial

if TYPE_CHECKING:
    from relay.core.sources import Source
    from relay.delivery.worker import Forwarder

__all__ = ["close_mappings", "resolve_job"]

log = structlog.get_logger("relay.delivery.resolver")


def _hold_key(source: str) -> str:
    return f"resolve:{source}"


async def resolve_job(fw: Forwarder, item: LeasedDial) -> LeasedDial | None:
    """The item as a plain dial, or None when it was rescheduled, held or dead-lettered."""
    now = fw.clock()
    source = fw.sources.get(item.source)
    mapping = source.mapping if source is not None else None
    if source is None or not isinstance(mapping, ResolvingMapping):
        reason = "unknown_source" if source is None else "mapping_cannot_resolve"
        log.error("job_unresolvable", source=item.source, dial_id=item.dial_id, reason=reason)
        fw.metrics.retried.labels(item.source, reason).inc()
        await fw.queue.retry(item.id, now + fw.settings.key_probe_seconds, reason)
        return None
    job = PendingJob(item.kind, item.dial_id, item.payload, item.received_at, item.attempts)
    fields = {"source": item.source, "dial_id": item.dial_id, "kind": item.kind}
    try:
        result = await mapping.resolve(job, source.context)
        dial = source_dial(source, result.fields)
    except ResolveAuthError as exc:
        await _hold(fw, item, str(exc))
        return None
    except ResolveError as exc:
        await _retry_or_expire(fw, item, mapping, exc.reason, str(exc), exc.retry_after)
        return None
    except MappingError as exc:
        log.error("job_dead_lettered", **fields, reason="resolve_unmappable", error=str(exc))
        await _dead(fw, item, "resolve_unmappable", str(exc))
        return None
    except Exception as exc:  # a mapping bug: keep the job, retry until it expires
        log.exception("job_resolve_crashed", **fields)
        await _retry_or_expire(fw, item, mapping, "crashed", repr(exc), None)
        return None
    payload = dial.to_wire()
    await fw.queue.replace_payload(item.id, payload, "dial")
    log.info("job_resolved", **fields, attempt=item.attempts, warnings=result.warnings or None)
    await _release_hold(fw, item.source)
    return dataclasses.replace(item, payload=payload, kind="dial")


async def _retry_or_expire(
    fw: Forwarder,
    item: LeasedDial,
    mapping: ResolvingMapping,
    reason: str,
    error: str,
    retry_after: float | None,
) -> None:
    now = fw.clock()
    fields = {"source": item.source, "dial_id": item.dial_id, "kind": item.kind}
    if now - item.received_at >= mapping.resolve_timeout:
        log.error("job_dead_lettered", **fields, reason="resolve_timeout", error=error)
        await _dead(fw, item, "resolve_timeout", f"{reason}: {error}")
        return
    s = fw.settings
    delay = backoff_delay(item.attempts, base=s.retry_base_seconds, cap=s.retry_cap_seconds)
    if retry_after is not None:
        delay = max(delay, min(retry_after, s.retry_after_cap_seconds))
    log.warning("job_retry_scheduled", **fields, reason=reason, error=error, retry_in=delay)
    fw.metrics.retried.labels(item.source, f"resolve_{reason}").inc()
    await fw.queue.retry(item.id, now + delay, error)
    fw.wake()


async def _dead(fw: Forwarder, item: LeasedDial, reason: str, detail: str) -> None:
    await fw.queue.dead_letter(
        item.id, reason=reason, status=None, response_body=detail, now=fw.clock()
    )
    fw.metrics.dead_lettered.labels(item.source, reason).inc()


async def _hold(fw: Forwarder, item: LeasedDial, error: str) -> None:
    """Hold the source like a refused outboundIQ key (same probing, same release)."""
    from relay.delivery.worker import KeyHold

    now = fw.clock()
    until = now + fw.settings.key_probe_seconds
    log.error("vendor_credentials_refused", source=item.source, error=error, probe_in=until - now)
    fw.holds[_hold_key(item.source)] = KeyHold(
        sources=frozenset({item.source}), next_probe=until, status=401
    )
    fw._refresh_hold_metrics()
    fw.metrics.retried.labels(item.source, "resolve_credentials_held").inc()
    await fw.queue.retry(item.id, until, error)
    await fw.queue.delay_sources({item.source}, until)


async def _release_hold(fw: Forwarder, source: str) -> None:
    if fw.holds.pop(_hold_key(source), None) is None:
        return
    fw._refresh_hold_metrics()
    log.info("vendor_credentials_resumed", source=source)
    await fw.queue.release_delayed(now=fw.clock(), sources={source})
    fw.wake()


async def close_mappings(sources: Iterable[Source]) -> None:
    """Close the clients of resolving mappings (at shutdown)."""
    for source in sources:
        if isinstance(source.mapping, ResolvingMapping):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.mapping.aclose(), 5)
