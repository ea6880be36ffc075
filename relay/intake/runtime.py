"""The running relay: everything ``create_app`` builds, shared by routes and the worker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from relay.config.settings import Settings
from relay.core.retention import RejectedRetention
from relay.core.sources import Source
from relay.intake.guard import RateLimiter
from relay.obs.feed import EventFeed
from relay.obs.metrics import RelayMetrics
from relay.obs.tally import OutcomeTally
from relay.queue.base import DialQueue

__all__ = ["CircuitView", "DeliveryWorker", "RelayRuntime", "WorkerState"]


class WorkerState(Protocol):
    @property
    def heartbeat(self) -> float:
        """When the worker last finished a turn of its loop (epoch seconds)."""
        ...


class CircuitView(Protocol):
    """The destination circuit as the console shows it (``relay.delivery.circuit.Circuit``)."""

    @property
    def open(self) -> bool: ...

    @property
    def failures(self) -> int: ...

    @property
    def next_probe(self) -> float: ...


class DeliveryWorker(Protocol):
    """What intake and the console need of the delivery worker
    (``relay.delivery.worker.Forwarder``)."""

    @property
    def state(self) -> WorkerState: ...

    @property
    def circuit(self) -> CircuitView: ...

    def held_sources(self) -> frozenset[str]: ...

    def hold_until(self, source: str) -> float | None:
        """When ``source``'s key hold ends, if its key is held."""
        ...

    def queued(self) -> None:
        """A dial was stored: wake the worker if it is idle."""
        ...


@dataclass
class RelayRuntime:
    settings: Settings
    sources: dict[str, Source]
    queue: DialQueue
    metrics: RelayMetrics
    forwarder: DeliveryWorker | None = None
    worker: asyncio.Task[None] | None = None
    stopping: bool = False
    background: set[asyncio.Task[None]] = field(default_factory=set)  # housekeeping tasks
    started_at: float = field(default_factory=time.time)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    retention: RejectedRetention | None = None  # the rejected store's limits
    events: EventFeed = field(default_factory=EventFeed)  # the live feed (relay.obs.feed)
    tally: OutcomeTally = field(default_factory=OutcomeTally)  # counts (relay.core.activity)
    #: every replica's events, from a shared queue's event channel (relay.obs.cluster)
    cluster_events: EventFeed | None = None

    @property
    def live_events(self) -> EventFeed:
        """What a live view follows: the cluster's events on a shared queue, else this
        replica's."""
        return self.cluster_events if self.cluster_events is not None else self.events

    def close_feeds(self) -> None:
        """End every live stream (the relay is stopping)."""
        self.events.close()
        if self.cluster_events is not None:
            self.cluster_events.close()

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """Whether to take traffic, and why not: queue usable, config loaded, worker alive."""
        checks: dict[str, str] = {"config": "ok", "queue": "ok", "worker": "ok"}
        if self.stopping:
            checks["worker"] = "shutting down"
        if not await self.queue.ping():
            checks["queue"] = "unavailable"
        worker = self.worker
        if worker is None or worker.done():
            checks["worker"] = "not running"
        elif self.forwarder is not None:
            now = time.time()
            stall = self.settings.worker_stall_seconds
            idle = now - self.forwarder.state.heartbeat
            if idle > stall:
                due = await self.queue.next_due()
                if due is not None and due <= now - stall:
                    checks["worker"] = f"stalled for {int(idle)} s with work due"
        return all(v == "ok" for v in checks.values()), checks
