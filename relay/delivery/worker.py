"""The forwarder: leases due dials and POSTs them to outboundIQ until outboundIQ has them.

One shared ``httpx.AsyncClient``; bounded concurrency; every dial on its own schedule, so a
dial that keeps failing never delays the others. Two pauses protect everyone:

* **Key hold** (401/403): the key's sources stop sending; their waiting dials are pushed to
  the next probe, and once a minute one of their dials probes the key. A 2xx (or a config
  reload) releases them all at once.
* **Destination circuit**: after ``circuit_threshold`` consecutive failures of outboundIQ
  itself (connection errors, timeouts, 5xx), normal leasing stops and one real dial probes
  every ``circuit_probe_seconds``. When outboundIQ answers, every delayed dial is made due
  at once, so a backlog drains right after recovery instead of after each dial's backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import structlog
from pydantic import SecretStr

from relay.delivery.batching import AckBatcher
from relay.delivery.policy import (
    Outcome,
    backoff_delay,
    classify,
    is_destination_failure,
    parse_retry_after,
)
from relay.delivery.ratelimit import TokenBucket
from relay.delivery.resolver import resolve_job
from relay.delivery.transport import AiohttpTransport, RelayClient
from relay.exceptions import QueueError
from relay.obs.logs import info_line
from relay.queue.base import DialQueue, LeasedDial

if TYPE_CHECKING:
    from relay.config.settings import Settings
    from relay.core.sources import Source
    from relay.obs.metrics import RelayMetrics

__all__ = ["Forwarder", "create_client"]

log = structlog.get_logger("relay.delivery.worker")
_FOREVER = 1e18  # a lease horizon past every due time: "the earliest dial, due or not"


def create_client(settings: Settings) -> httpx.AsyncClient:
    """The one HTTP client every delivery shares: httpx's API on aiohttp's connection pool.

    The transport was chosen by measurement (docs/benchmarks.md): httpx's default transport
    caps one process at about 1,000 POSTs/s; this one at about 5,000.
    """
    limits = httpx.Limits(
        max_connections=settings.forward_concurrency,
        max_keepalive_connections=settings.forward_concurrency,
        keepalive_expiry=30,
    )
    return RelayClient(
        base_url=settings.outboundiq_url.rstrip("/"),
        timeout=httpx.Timeout(settings.forward_timeout_seconds),
        limits=limits,
        headers={"User-Agent": "outboundiq-relay", "Content-Type": "application/json"},
        follow_redirects=False,
        transport=AiohttpTransport(limits=limits),
    )


@dataclass
class KeyHold:
    """A key outboundIQ refused: its sources wait until a probe succeeds."""

    sources: frozenset[str]
    next_probe: float
    status: int
    probe_id: str | None = None


@dataclass
class _Circuit:
    failures: int = 0
    open: bool = False
    next_probe: float = 0.0
    probe_id: str | None = None
    opened_at: float = 0.0


@dataclass
class ForwarderState:
    """What the forwarder exposes to readiness and metrics."""

    heartbeat: float = field(default_factory=time.time)
    in_flight: int = 0
    delivered: int = 0


class Forwarder:
    """Moves dials from the queue to outboundIQ. ``run()`` is the worker loop."""

    def __init__(
        self,
        *,
        queue: DialQueue,
        sources: dict[str, Source],
        settings: Settings,
        client: httpx.AsyncClient,
        metrics: RelayMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.sources = sources
        self.settings = settings
        self.client = client
        self.metrics = metrics
        self.clock = clock
        self.circuit_threshold = settings.circuit_threshold
        self.circuit_probe_seconds = settings.circuit_probe_seconds
        self._buckets: dict[str, TokenBucket] = {}
        self.state = ForwarderState(heartbeat=clock())
        self.holds: dict[str, KeyHold] = {}
        self._circuit = _Circuit()
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._leased: dict[str, LeasedDial] = {}
        self._acks = AckBatcher(queue)
        # Lease a few dials at a time, not one per finished delivery (fewer queue round
        # trips), nor many (a big batch starts, and later finishes, as one burst that
        # delays webhooks sharing the event loop): 4 at the default 64 (docs/benchmarks.md).
        self._lease_batch = max(1, settings.forward_concurrency // 16)

    # --- control -----------------------------------------------------------------------
    def wake(self) -> None:
        """Something changed: look now instead of at the next poll."""
        self._wake.set()

    def queued(self) -> None:
        """A new dial was queued (intake, once per webhook): look now, unless the circuit is
        open, when a new dial waits for the probe like the rest (waking the loop for nothing
        on every webhook would cost intake while outboundIQ is down)."""
        if not self._circuit.open:
            self._wake.set()

    def update_sources(self, sources: dict[str, Source]) -> None:
        """A config reload: new keys, and every hold is lifted (the key may be fixed)."""
        self.sources = sources
        held = self.held_sources()
        self.holds.clear()
        self._refresh_hold_metrics()
        if held:
            self._background(self._release_sources(held))
        self.wake()

    @property
    def circuit_open(self) -> bool:
        return self._circuit.open

    def held_sources(self) -> frozenset[str]:
        return frozenset().union(*(h.sources for h in self.holds.values()))

    def hold_until(self, source: str) -> float | None:
        """When a new dial of ``source`` should first be tried (None: now)."""
        for hold in self.holds.values():
            if source in hold.sources:
                return hold.next_probe
        return None

    async def stop(self, grace: float) -> None:
        """Stop leasing; let in-flight deliveries finish for ``grace`` s, release the rest."""
        self._stopping = True
        self.wake()
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._leased:
            with contextlib.suppress(QueueError):
                await self.queue.release(list(self._leased), now=self.clock())
            self._leased.clear()

    # --- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        concurrency = self.settings.forward_concurrency
        while not self._stopping:
            self.state.heartbeat = self.clock()
            free = concurrency - len(self._tasks)
            if free <= 0 or (self._tasks and free < self._lease_batch):
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            now = self.clock()
            try:
                batch = await self._next_batch(free, now)
            except QueueError as exc:
                log.error("queue_lease_failed", error=str(exc))
                await self._sleep(1.0)
                continue
            if self._stopping:
                if batch:
                    await self.queue.release([d.id for d in batch], now=self.clock())
                break
            for dial in batch:
                self._spawn(dial)
            if not batch:
                await self._idle(now)

    async def _next_batch(self, free: int, now: float) -> list[LeasedDial]:
        visibility = self.settings.visibility_timeout_seconds
        batch: list[LeasedDial] = []
        for key, hold in list(self.holds.items()):
            if hold.probe_id is None and now >= hold.next_probe:
                probe = await self.queue.lease(
                    1, visibility, now=now, only_sources=hold.sources, horizon=_FOREVER
                )
                if probe:
                    hold.probe_id = probe[0].id
                    batch.extend(probe)
                else:  # nothing left to probe with: the hold has nothing to protect
                    del self.holds[key]
                    self._refresh_hold_metrics()
        circuit = self._circuit
        if circuit.open:
            if circuit.probe_id is None and now >= circuit.next_probe:
                probe = await self.queue.lease(
                    1, visibility, now=now, exclude_sources=self.held_sources(), horizon=_FOREVER
                )
                if probe:
                    circuit.probe_id = probe[0].id
                    batch.extend(probe)
            return batch
        want = free - len(batch)
        if want > 0:
            batch.extend(
                await self.queue.lease(
                    want, visibility, now=now, exclude_sources=self.held_sources()
                )
            )
        return batch

    async def _idle(self, now: float) -> None:
        timeout = 1.0
        if self._circuit.open:
            timeout = min(timeout, max(0.01, self._circuit.next_probe - now))
        else:
            try:
                due = await self.queue.next_due()
            except QueueError:
                due = None
            if due is not None:
                timeout = min(timeout, max(0.005, due - now))
        await self._sleep(timeout)

    async def _sleep(self, seconds: float) -> None:
        """Until ``wake()`` or ``seconds`` pass. A bare timer rather than ``wait_for``, which
        makes a task per call: intake wakes the forwarder for every new dial."""
        self._wake.clear()
        timer = asyncio.get_running_loop().call_later(seconds, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    def _spawn(self, dial: LeasedDial) -> None:
        self._leased[dial.id] = dial
        task = asyncio.create_task(self._deliver_guarded(dial))
        self._tasks.add(task)
        self.state.in_flight = len(self._tasks)
        task.add_done_callback(self._task_done)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        """Queue housekeeping tracked like a delivery, so shutdown waits for it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.state.in_flight = len(self._tasks)
        self.state.heartbeat = self.clock()  # a finished attempt is progress
        self._slot_free.set()

    async def _deliver_guarded(self, dial: LeasedDial) -> None:
        try:
            await self._deliver(dial)
            self._leased.pop(dial.id, None)
        except asyncio.CancelledError:
            raise  # stop() releases what is still leased
        except QueueError as exc:
            self._leased.pop(dial.id, None)  # the lease runs out; the dial comes back by itself
            log.error("queue_update_failed", dial_id=dial.dial_id, error=str(exc))
        except Exception:
            self._leased.pop(dial.id, None)
            log.exception("delivery_crashed", dial_id=dial.dial_id, source=dial.source)
        finally:
            self._settle_probe(dial.id)

    def _settle_probe(self, queue_id: str) -> None:
        """A probe that ended without deciding (e.g. a 5xx during a key hold): probe again later."""
        now = self.clock()
        if self._circuit.probe_id == queue_id:
            self._circuit.probe_id = None
            self._circuit.next_probe = now + self.circuit_probe_seconds
        for hold in self.holds.values():
            if hold.probe_id == queue_id:
                hold.probe_id = None
                hold.next_probe = now + self.settings.key_probe_seconds

    # --- one delivery ------------------------------------------------------------------
    async def _deliver(self, dial: LeasedDial) -> None:
        now = self.clock()
        source = self.sources.get(dial.source)
        key = source.api_key if source is not None else None
        if now - dial.received_at > self.settings.max_age_seconds:
            await self._dead(dial, reason="max_age_exceeded", status=None, body="")
            return
        if dial.kind != "dial":  # a mapping job (e.g. a Genesys conversation): resolve it first
            resolved = await resolve_job(self, dial)
            if resolved is None:
                return
            dial = resolved
        if key is None and not self.settings.dry_run:
            reason = "unknown_source" if source is None else "no_api_key"
            log.error(
                "dial_waiting_for_key", source=dial.source, dial_id=dial.dial_id, reason=reason
            )
            self.metrics.retried.labels(dial.source, reason).inc()
            await self.queue.retry(dial.id, now + self.settings.key_probe_seconds, reason)
            return
        if self.settings.dry_run:
            log.info(
                "dial_forwarded",
                dry_run=True,
                source=dial.source,
                dial_id=dial.dial_id,
                attempt=dial.attempts,
            )
            await self._acks.ack(dial.id)
            self._delivered(dial)
            return
        assert key is not None
        status, body, retry_after, error = await self._post(dial, key)
        outcome = classify(status)
        self._note_destination(status)
        log_fields = {
            "source": dial.source,
            "dial_id": dial.dial_id,
            "attempt": dial.attempts,
            "status": status,
            "outcome": outcome.value,
        }
        if outcome is Outcome.DELIVERED:
            info_line(log, "dial_forwarded", dict(log_fields))
            await self._acks.ack(dial.id)
            self._delivered(dial)
            self._release_hold_for(dial.source)
        elif outcome is Outcome.HOLD_KEY and self._key_changed(dial.source, key):
            # the config was reloaded while this POST was in flight: try the new key now
            log.warning("outboundiq_key_refused_stale", **log_fields)
            await self.queue.retry(dial.id, self.clock(), "refused key was replaced")
            self.wake()
        elif outcome is Outcome.HOLD_KEY:
            log.error(
                "outboundiq_key_refused", **log_fields, probe_in=self.settings.key_probe_seconds
            )
            assert status is not None
            await self._hold(dial, key, status)
        elif outcome is Outcome.DEAD:
            log.error("dial_dead_lettered", **log_fields, response=body[:200])
            await self._dead(dial, reason=f"http_{status}", status=status, body=body)
        else:
            await self._retry(dial, status, retry_after, error, log_fields)

    async def _post(
        self, dial: LeasedDial, key: SecretStr
    ) -> tuple[int | None, str, str | None, str]:
        rate = self.settings.rate_limit_per_key
        if rate > 0:
            bucket = self._buckets.setdefault(self._key_id(key), TokenBucket(rate))
            await bucket.acquire()
        started = time.perf_counter()
        try:
            response = await self.client.post(
                "/dials",
                content=dial.payload,
                headers={"Authorization": f"Bearer {key.get_secret_value()}"},
            )
        except httpx.TimeoutException as exc:
            return None, "", None, f"timeout ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            return None, "", None, f"connection error ({type(exc).__name__})"
        finally:
            self.metrics.forward_latency.observe(time.perf_counter() - started)
        return (
            response.status_code,
            response.text[:4000],
            response.headers.get("retry-after"),
            f"http {response.status_code}",
        )

    def _delivered(self, dial: LeasedDial) -> None:
        self.state.delivered += 1
        self.state.heartbeat = self.clock()
        self.metrics.delivered.labels(dial.source).inc()

    async def _retry(
        self,
        dial: LeasedDial,
        status: int | None,
        retry_after: str | None,
        error: str,
        log_fields: dict[str, object],
    ) -> None:
        now = self.clock()
        s = self.settings
        delay = backoff_delay(dial.attempts, base=s.retry_base_seconds, cap=s.retry_cap_seconds)
        hinted = parse_retry_after(retry_after, now=now)
        if hinted is not None:
            delay = max(delay, min(hinted, s.retry_after_cap_seconds))
        reason = "timeout_or_connection" if status is None else f"http_{status}"
        log.warning("dial_retry_scheduled", **log_fields, error=error, retry_in=round(delay, 3))
        self.metrics.retried.labels(dial.source, reason).inc()
        await self.queue.retry(dial.id, now + delay, error)
        self.wake()  # the loop may be sleeping toward a later due time

    async def _dead(self, dial: LeasedDial, *, reason: str, status: int | None, body: str) -> None:
        await self.queue.dead_letter(
            dial.id, reason=reason, status=status, response_body=body, now=self.clock()
        )
        self.metrics.dead_lettered.labels(dial.source, reason).inc()

    # --- key holds -----------------------------------------------------------------------
    def _key_changed(self, source: str, used: SecretStr) -> bool:
        """Whether ``source`` has another key than ``used`` now (a reload happened meanwhile)."""
        current = self.sources.get(source)
        key = current.api_key if current is not None else None
        return key is None or key.get_secret_value() != used.get_secret_value()

    def _key_id(self, key: SecretStr) -> str:
        """A process-local handle for a key that is not the key (never logged either)."""
        return hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]

    async def _hold(self, dial: LeasedDial, key: SecretStr, status: int) -> None:
        now = self.clock()
        until = now + self.settings.key_probe_seconds
        key_id = self._key_id(key)
        sharing = frozenset(
            name
            for name, src in self.sources.items()
            if src.api_key is not None and self._key_id(src.api_key) == key_id
        ) or frozenset({dial.source})
        self.holds[key_id] = KeyHold(sources=sharing, next_probe=until, status=status)
        self._refresh_hold_metrics()
        self.metrics.retried.labels(dial.source, f"key_held_{status}").inc()
        await self.queue.retry(dial.id, until, f"outboundIQ refused the key (HTTP {status})")
        await self.queue.delay_sources(sharing, until)

    def _release_hold_for(self, source: str) -> None:
        for key_id, hold in list(self.holds.items()):
            if source in hold.sources:
                del self.holds[key_id]
                self._refresh_hold_metrics()
                log.info("outboundiq_key_resumed", sources=sorted(hold.sources))
                self._background(self._release_sources(hold.sources))

    async def _release_sources(self, sources: frozenset[str]) -> None:
        await self.queue.release_delayed(now=self.clock(), sources=sources)
        self.wake()

    def _refresh_hold_metrics(self) -> None:
        self.metrics.held_keys.set(len(self.holds))
        held = self.held_sources()
        for name in self.sources:
            self.metrics.held_sources.labels(name).set(1 if name in held else 0)

    # --- destination circuit -------------------------------------------------------------
    def _note_destination(self, status: int | None) -> None:
        c = self._circuit
        now = self.clock()
        if is_destination_failure(status):
            c.failures += 1
            if not c.open and c.failures >= self.circuit_threshold:
                c.open = True
                c.opened_at = now
                c.next_probe = now + self.circuit_probe_seconds
                self.metrics.circuit_open.set(1)
                log.error("destination_circuit_opened", consecutive_failures=c.failures)
            return
        c.failures = 0
        if c.open:
            c.open = False
            c.probe_id = None
            self.metrics.circuit_open.set(0)
            log.info("destination_circuit_closed", outage_seconds=round(now - c.opened_at, 1))
            self._background(self._release_after_recovery())

    async def _release_after_recovery(self) -> None:
        released = await self.queue.release_delayed(now=self.clock())
        log.info("backlog_released", dials=released)
        self.wake()
