"""What happens to a leased dial after an attempt: ack, retry, dead-letter, or hold its key.

The one place that moves a leased item on, for the forwarder's POSTs (``posted``: the table
in ``relay.delivery.policy``) and for the resolver's attempts at a mapping job (the building
blocks: ``retry``, ``dead``, ``hold``, ``park``, ``release``, ``lift``). Each keeps the
metrics in step (``relay_dials_delivered_total``, ``relay_dials_retried_total{reason}``,
``relay_dials_dead_lettered_total{reason}``, the hold gauges), tells the live feed
(``delivered``, ``retried``, ``dead_lettered`` events, while anyone follows it), counts them
(``OutcomeTally``: each source's activity, always) and wakes the worker when a dial may have
become due sooner than it planned for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import SecretStr

from relay.config.settings import Settings
from relay.core.retry_after import parse_retry_after
from relay.core.sources import Source, configured_secrets
from relay.delivery.batching import AckBatcher
from relay.delivery.holds import KeyHold, KeyHolds, key_id, sources_using
from relay.delivery.policy import Outcome, classify, retry_delay
from relay.delivery.poster import PostResult
from relay.obs.events import RelayEvent
from relay.obs.feed import EventFeed
from relay.obs.logs import info_line, redact_answer
from relay.obs.metrics import RelayMetrics
from relay.obs.tally import OutcomeTally
from relay.queue.base import Attempt, DeliveryQueue, LeasedDial, PoisonedDial

__all__ = ["ForwarderState", "Outcomes"]

log = structlog.get_logger("relay.delivery.outcomes")

#: Spawns queue housekeeping the worker tracks like a delivery (shutdown waits for it).
Background = Callable[[Coroutine[Any, Any, None]], None]


@dataclass
class ForwarderState:
    """What the forwarder exposes to readiness and metrics."""

    heartbeat: float = field(default_factory=time.time)
    in_flight: int = 0
    delivered: int = 0


@dataclass(kw_only=True, eq=False)
class Outcomes:
    """Acts on attempts' results against ``queue``; ``sources`` gives the current sources,
    ``wake`` wakes the worker loop, ``background`` runs housekeeping the worker waits for."""

    queue: DeliveryQueue
    holds: KeyHolds
    metrics: RelayMetrics
    settings: Settings
    sources: Callable[[], Mapping[str, Source]]
    state: ForwarderState
    wake: Callable[[], None]
    background: Background
    events: EventFeed = field(default_factory=EventFeed)
    tally: OutcomeTally = field(default_factory=OutcomeTally)
    clock: Callable[[], float] = time.time
    _acks: AckBatcher = field(init=False)

    def __post_init__(self) -> None:
        self._acks = AckBatcher(self.queue)

    # --- after a POST ------------------------------------------------------------------
    async def posted(self, dial: LeasedDial, key: SecretStr, result: PostResult) -> None:
        """Act on outboundIQ's answer to ``dial`` sent with ``key`` (the policy table)."""
        status = result.status
        outcome = classify(status)
        # this POST, for the dial's history: outboundIQ's answer (redacted) unless accepted
        failed = outcome is not Outcome.DELIVERED
        answer = (self.redacted(result.body, key) or result.error) if failed else ""
        attempt = Attempt(self.clock(), dial.attempts, status, answer, result.seconds)
        log_fields = {
            "source": dial.source,
            "dial_id": dial.dial_id,
            "attempt": dial.attempts,
            "status": status,
            "outcome": outcome.value,
        }
        if outcome is Outcome.DELIVERED:
            info_line(log, "dial_forwarded", log_fields)  # the line takes it over: no copy
            await self.delivered(dial, attempt, status=status)
            self._resume(dial.source)
        elif outcome is Outcome.HOLD_KEY and self._key_changed(dial.source, key):
            # the config was reloaded while this POST was in flight: try the new key now
            log.warning("outboundiq_key_refused_stale", **log_fields)
            refused = "refused key was replaced"
            await self.queue.retry(dial.id, self.clock(), refused, attempt=attempt)
            self._tell("retried", dial, status=status, reason="key_replaced")
            self.wake()
        elif outcome is Outcome.HOLD_KEY:
            log.error(
                "outboundiq_key_refused", **log_fields, probe_in=self.settings.key_probe_seconds
            )
            assert status is not None
            sharing = sources_using(key, self.sources()) or frozenset({dial.source})
            await self.hold(
                dial,
                key=key_id(key),
                sources=sharing,
                status=status,
                reason=f"key_held_{status}",
                error=f"outboundIQ refused the key (HTTP {status})",
                until=self.next_probe(self.clock()),
                attempt=attempt,
            )
        elif outcome is Outcome.DEAD:
            body = self.redacted(result.body, key)
            log.error("dial_dead_lettered", **log_fields, response=body[:200])
            await self.dead(
                dial, reason=f"http_{status}", status=status, body=body, attempt=attempt
            )
        else:
            now = self.clock()
            delay = self.retry_delay(dial, parse_retry_after(result.retry_after, now=now))
            reason = "timeout_or_connection" if status is None else f"http_{status}"
            log.warning(
                "dial_retry_scheduled", **log_fields, error=result.error, retry_in=round(delay, 3)
            )
            await self.retry(dial, now + delay, reason=reason, error=result.error, attempt=attempt)

    def _key_changed(self, source: str, used: SecretStr) -> bool:
        """Whether ``source`` has another key than ``used`` now (a reload happened meanwhile)."""
        current = self.sources().get(source)
        key = current.api_key if current is not None else None
        return key is None or key.get_secret_value() != used.get_secret_value()

    def _resume(self, source: str) -> None:
        """``source`` got a 2xx: every hold on it is lifted and its dials are due now."""
        for hold in self.holds.release_source(source):
            log.info("outboundiq_key_resumed", sources=sorted(hold.sources))
            self.background(self.lift(hold.sources))

    def recovered(self) -> None:
        """The destination circuit closed: every delayed dial is due now (in the background)."""
        self.background(self._release_backlog())

    async def _release_backlog(self) -> None:
        released = await self.queue.release_delayed(now=self.clock())
        log.info("backlog_released", dials=released)
        self.wake()

    # --- the building blocks -------------------------------------------------------------
    async def delivered(
        self,
        dial: LeasedDial,
        attempt: Attempt | None = None,
        *,
        status: int | None = None,
        detail: str | None = None,
    ) -> None:
        """outboundIQ has ``dial`` (its answer: ``status``, to ``attempt``; none in dry-run):
        ack it and count it."""
        await self._acks.ack(dial.id, attempt)
        self.state.delivered += 1
        self.state.heartbeat = self.clock()
        self.metrics.dial_delivered(dial.source)
        self._tell("delivered", dial, status=status, detail=detail)

    def _tell(
        self,
        kind: str,
        dial: LeasedDial,
        *,
        status: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
        due_at: float | None = None,
    ) -> None:
        """Counts the outcome ``kind`` (``tally``), and the live feed's event for ``dial``
        (nothing is built while nobody follows it); ``due_at``: when a retried dial is tried
        next."""
        self.tally.count(dial.source, kind)
        if self.events.active:  # built only when a subscription takes it now
            wait = None if due_at is None else max(0.0, due_at - self.clock())
            self.events.publish_lazily(
                kind, dial.source, lambda: _event(kind, dial, status, reason, detail, wait)
            )

    def redacted(self, answer: str, key: SecretStr | None = None) -> str:
        """A remote answer safe to store and log: no configured secret (nor ``key``, the one
        just used, even if a reload replaced it meanwhile), phone numbers masked."""
        if not answer:
            return answer
        secrets = configured_secrets(self.settings, self.sources())
        if key is not None:
            secrets.append(key.get_secret_value())
        return redact_answer(answer, secrets)

    def retry_delay(self, dial: LeasedDial, hint: float | None) -> float:
        """The backoff before ``dial``'s next attempt; ``hint``: a server's wish, in seconds."""
        s = self.settings
        return retry_delay(
            dial.attempts,
            hint,
            base=s.retry_base_seconds,
            cap=s.retry_cap_seconds,
            hint_cap=s.retry_after_cap_seconds,
        )

    async def retry(
        self,
        dial: LeasedDial,
        due_at: float,
        *,
        reason: str,
        error: str,
        attempt: Attempt | None = None,
    ) -> None:
        """Try ``dial`` again at ``due_at`` (after ``attempt``), counted under ``reason``."""
        self.metrics.retried.labels(dial.source, reason).inc()
        await self.queue.retry(dial.id, due_at, error, attempt=attempt)
        self._tell("retried", dial, reason=reason, detail=error, due_at=due_at)
        self.wake()  # the loop may be sleeping toward a later due time

    def next_probe(self, now: float) -> float:
        """When a dial parked or held at ``now`` is tried again."""
        return now + self.settings.key_probe_seconds

    async def park(self, dial: LeasedDial, *, reason: str, now: float) -> None:
        """``dial`` cannot be sent as configured (no key, no mapping): look again next probe."""
        self.metrics.retried.labels(dial.source, reason).inc()
        await self.queue.retry(dial.id, self.next_probe(now), reason)
        self._tell("retried", dial, reason=reason, due_at=self.next_probe(now))

    async def dead(
        self,
        dial: LeasedDial,
        *,
        reason: str,
        status: int | None = None,
        body: str = "",
        attempt: Attempt | None = None,
    ) -> None:
        """Move ``dial`` to the dead-letter store with ``reason`` (and outboundIQ's answer to
        ``attempt``, redacted: ``redacted``)."""
        answer = self.redacted(body)
        await self.queue.dead_letter(
            dial.id,
            reason=reason,
            status=status,
            response_body=answer,
            now=self.clock(),
            attempt=attempt,
        )
        self.metrics.dead_lettered.labels(dial.source, reason).inc()
        self._tell("dead_lettered", dial, status=status, reason=reason, detail=answer or None)

    def poisoned(self, dial: PoisonedDial) -> None:
        """The queue dead-lettered ``dial`` by itself (``ReportsPoison``: handed out too many
        times without an outcome): counted and told like the forwarder's own dead letters."""
        self.metrics.dead_lettered.labels(dial.source, "poison").inc()
        self.tally.count(dial.source, "dead_lettered")
        if self.events.active:
            self.events.publish(_poison_event(dial))

    async def hold(
        self,
        dial: LeasedDial,
        *,
        key: str,
        sources: frozenset[str],
        status: int,
        reason: str,
        error: str,
        until: float,
        attempt: Attempt | None = None,
    ) -> None:
        """Hold ``key``: ``sources`` wait until ``until``, when ``dial`` is due to probe it
        (``attempt``: the POST refused, if it was one)."""
        self.holds.hold(key, sources, status=status, until=until)
        self.metrics.retried.labels(dial.source, reason).inc()
        await self.queue.retry(dial.id, until, error, attempt=attempt)
        await self.queue.delay_sources(sources, until)
        self._tell("retried", dial, status=status, reason=reason, detail=error, due_at=until)

    def release(self, key: str) -> KeyHold | None:
        """Lift the hold on ``key`` (its dials stay delayed until ``lift``); None: no hold."""
        return self.holds.release(key)

    async def lift(self, sources: frozenset[str]) -> None:
        """Make the delayed dials of ``sources`` due now (their hold was lifted)."""
        await self.queue.release_delayed(now=self.clock(), sources=sources)
        self.wake()


def _event(
    kind: str,
    dial: LeasedDial,
    status: int | None,
    reason: str | None,
    detail: str | None,
    wait: float | None,
) -> RelayEvent:
    """The live feed's event ``kind`` for ``dial``; ``wait``: seconds to its next attempt."""
    if wait is not None:
        note = f"next attempt in {wait:.1f} s"
        detail = f"{detail}; {note}" if detail else note
    if status is None and reason is not None and reason.startswith("http_"):
        status = int(reason[5:]) if reason[5:].isdigit() else None
    return RelayEvent(
        kind,
        dial.source,
        dial_id=dial.dial_id,
        queue_id=dial.id,
        status=status,
        reason=reason,
        detail=detail,
        attempt=dial.attempts,
        payload=dial.payload if dial.kind == "dial" else None,
    )


def _poison_event(dial: PoisonedDial) -> RelayEvent:
    """The live feed's event for a dial the queue dead-lettered as poison."""
    return RelayEvent(
        "dead_lettered",
        dial.source,
        dial_id=dial.dial_id,
        queue_id=dial.id,
        reason="poison",
        detail=f"handed out {dial.deliveries} times without an outcome",
        attempt=dial.deliveries,
    )
