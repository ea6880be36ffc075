"""The forwarder: leases due dials and POSTs them to outboundIQ until outboundIQ has them.

One shared ``ForwardClient`` (``relay.delivery.client``); bounded concurrency; every dial on
its own schedule, so a dial that keeps failing never delays the others. Two pauses protect
everyone:

* **Key hold** (401/403): the key's sources stop sending; their waiting dials are pushed to
  the next probe, and once a minute one of their dials probes the key. A 2xx (or a config
  reload) releases them all at once.
* **Destination circuit**: after ``circuit_threshold`` consecutive failures of outboundIQ
  itself (connection errors, timeouts, 5xx), normal leasing stops and one real dial probes
  every ``circuit_probe_seconds``. When outboundIQ answers, every delayed dial is made due
  at once, so a backlog drains right after recovery instead of after each dial's backoff.

This module is the loop: lease, bounded concurrency, one task per dial, idle and stop. One
attempt is ``relay.delivery.attempt``; what follows it, ``relay.delivery.outcomes``; the
pauses, ``relay.delivery.holds`` and ``relay.delivery.circuit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import structlog

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.delivery.attempt import Deliverer
from relay.delivery.circuit import Circuit
from relay.delivery.client import ForwardClient
from relay.delivery.holds import KeyHolds
from relay.delivery.outcomes import ForwarderState, Outcomes
from relay.delivery.poster import Poster
from relay.delivery.resolver import Resolver
from relay.exceptions import QueueError
from relay.obs.feed import EventFeed
from relay.obs.metrics import RelayMetrics
from relay.obs.tally import OutcomeTally
from relay.queue.base import DeliveryQueue, LeasedDial, ReportsPoison

__all__ = ["Forwarder"]

log = structlog.get_logger("relay.delivery.worker")
_Dials = list[LeasedDial]
_FOREVER = 1e18  # a lease horizon past every due time: "the earliest dial, due or not"


class Forwarder:
    """Moves dials from the queue to outboundIQ. ``run()`` is the worker loop."""

    def __init__(
        self,
        *,
        queue: DeliveryQueue,
        sources: dict[str, Source],
        settings: Settings,
        client: ForwardClient,
        metrics: RelayMetrics,
        events: EventFeed | None = None,
        tally: OutcomeTally | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.sources = sources
        self.settings = settings
        self.client = client
        self.metrics = metrics
        self.clock = clock
        self.state = ForwarderState(heartbeat=clock())
        self.holds = KeyHolds(metrics, sources, probe_seconds=settings.key_probe_seconds)
        self.circuit = Circuit(
            metrics,
            threshold=settings.circuit_threshold,
            probe_seconds=settings.circuit_probe_seconds,
        )
        self.outcomes = Outcomes(
            queue=queue,
            holds=self.holds,
            metrics=metrics,
            settings=settings,
            sources=self._current_sources,
            state=self.state,
            wake=self.wake,
            background=self._background,
            events=events if events is not None else EventFeed(),
            tally=tally if tally is not None else OutcomeTally(),
            clock=clock,
        )
        if isinstance(queue, ReportsPoison):  # Redis: its own dead letters, counted here
            queue.on_poison(self.outcomes.poisoned)
        self._deliverer = Deliverer(
            poster=Poster(client, metrics, rate_per_key=settings.rate_limit_per_key),
            outcomes=self.outcomes,
            resolver=Resolver(
                outcomes=self.outcomes, queue=queue, sources=self._current_sources, clock=clock
            ),
            circuit=self.circuit,
            settings=settings,
            sources=self._current_sources,
            clock=clock,
        )
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._leased: dict[str, LeasedDial] = {}
        # Leased dials waiting for a slot (a finished delivery starts the next at once): a slow
        # lease (Redis: three round trips behind the deliveries) no longer idles the slots.
        self._waiting: deque[LeasedDial] = deque()
        self._prefetch = settings.forward_concurrency // 2
        # Lease a few dials at a time, not one per finished delivery (fewer queue round
        # trips), nor many (a big batch starts, and later finishes, as one burst that
        # delays webhooks sharing the event loop): 4 at the default 64 (docs/benchmarks.md).
        self._lease_batch = max(1, settings.forward_concurrency // 16)

    def _current_sources(self) -> Mapping[str, Source]:
        return self.sources

    # --- control -----------------------------------------------------------------------
    def wake(self) -> None:
        """Something changed: look now instead of at the next poll."""
        self._wake.set()

    def queued(self) -> None:
        """A new dial was queued (intake, once per webhook): look now, unless the circuit is
        open, when a new dial waits for the probe like the rest (waking the loop for nothing
        on every webhook would cost intake while outboundIQ is down)."""
        if not self.circuit.open:
            self._wake.set()

    @property
    def wake_pending(self) -> bool:
        """Whether a wake-up is waiting for the loop (set by ``wake``, cleared when it sleeps)."""
        return self._wake.is_set()

    def update_sources(self, sources: dict[str, Source]) -> None:
        """A config reload: new keys, and every hold is lifted (the key may be fixed)."""
        self.sources = sources
        held = self.holds.reset(sources)
        if held:
            self._background(self.outcomes.lift(held))
        self.wake()

    @property
    def circuit_open(self) -> bool:
        return self.circuit.open

    def held_sources(self) -> frozenset[str]:
        return self.holds.held_sources()

    def hold_until(self, source: str) -> float | None:
        """When a new dial of ``source`` should first be tried (None: now)."""
        return self.holds.hold_until(source)

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
        self._waiting.clear()  # still in _leased: released with the rest
        if self._leased:
            with contextlib.suppress(QueueError):
                await self.queue.release(list(self._leased), now=self.clock())
            self._leased.clear()

    # --- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        concurrency = self.settings.forward_concurrency
        while not self._stopping:
            self.state.heartbeat = self.clock()
            if self._waiting and self.circuit.open:  # they would only fail: back to the queue
                await self._release_waiting()
            busy = len(self._tasks) + len(self._waiting)
            room = concurrency + self._prefetch - busy
            if room <= 0 or (busy and room < self._lease_batch):
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            now = self.clock()
            try:
                probes, batch = await self._next_batch(room, now)
            except QueueError as exc:
                log.error("queue_lease_failed", error=str(exc))
                await self._sleep(1.0)
                continue
            if self._stopping:
                if probes or batch:
                    await self.queue.release([d.id for d in probes + batch], now=self.clock())
                break
            for dial in probes:  # at once, whatever the slots: a probe never waits in line
                self._spawn(dial)
            for dial in batch:
                self._start(dial)
            if len(probes) + len(batch) < room:  # every due dial leased: wait for more
                await self._idle(now)

    def _start(self, dial: LeasedDial) -> None:
        """Deliver ``dial`` now if a slot is free, else put it in the waiting line."""
        if self._may_start():
            self._spawn(dial)
        else:
            self._leased[dial.id] = dial
            self._waiting.append(dial)

    def _may_start(self) -> bool:
        full = len(self._tasks) >= self.settings.forward_concurrency
        return not (full or self._stopping or self.circuit.open)

    async def _release_waiting(self) -> None:
        ids, self._waiting = [d.id for d in self._waiting], deque()
        try:
            await self.queue.release(ids, now=self.clock())
        except QueueError as exc:  # their leases run out: they come back by themselves
            log.error("queue_release_failed", error=str(exc))
        for queue_id in ids:
            self._leased.pop(queue_id, None)

    async def _next_batch(self, free: int, now: float) -> tuple[_Dials, _Dials]:
        """The probes due, then up to ``free`` dials in all (none while the circuit is open)."""
        visibility = self.settings.visibility_timeout_seconds
        probes = await _lease_probes(self.queue, self.holds, self.circuit, visibility, now)
        want = free - len(probes)
        if want <= 0 or self.circuit.open:
            return probes, []
        held = self.held_sources()
        return probes, await self.queue.lease(want, visibility, now=now, exclude_sources=held)

    async def _idle(self, now: float) -> None:
        timeout = 1.0
        if self.circuit.open:
            timeout = min(timeout, max(0.01, self.circuit.next_probe - now))
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
        if self._waiting and self._may_start():
            self._spawn(self._waiting.popleft())  # the freed slot goes to the next in line
        self.state.in_flight = len(self._tasks)
        self.state.heartbeat = self.clock()  # a finished attempt is progress
        self._slot_free.set()

    async def _deliver_guarded(self, dial: LeasedDial) -> None:
        try:
            await self._deliverer.deliver(dial)
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
        self.circuit.settle(queue_id, now)
        self.holds.settle(queue_id, now)


async def _lease_probes(
    queue: DeliveryQueue, holds: KeyHolds, circuit: Circuit, visibility: float, now: float
) -> list[LeasedDial]:
    """A dial for each key hold whose probe is due, and the destination circuit's probe when
    it is open and due (``_FOREVER``: the earliest dial, due or not)."""
    probes: list[LeasedDial] = []
    for key, hold in list(holds.items()):
        if hold.probe_due(now):
            probe = await queue.lease(
                1, visibility, now=now, only_sources=hold.sources, horizon=_FOREVER
            )
            if probe:
                hold.probe_id = probe[0].id
                probes.extend(probe)
            else:  # nothing left to probe with: the hold has nothing to protect
                holds.drop(key)
    if circuit.open and circuit.probe_due(now):
        held = holds.held_sources()
        probe = await queue.lease(1, visibility, now=now, exclude_sources=held, horizon=_FOREVER)
        if probe:
            circuit.probing(probe[0].id)
            probes.extend(probe)
    return probes
