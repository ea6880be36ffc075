"""The running relay: everything ``create_app`` builds, shared by routes and the worker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from relay.forwarder import Forwarder
from relay.limits import RateLimiter
from relay.metrics import RelayMetrics
from relay.queue.base import DialQueue
from relay.settings import Settings
from relay.sources import Source

__all__ = ["RelayRuntime"]


@dataclass
class RelayRuntime:
    settings: Settings
    sources: dict[str, Source]
    queue: DialQueue
    metrics: RelayMetrics
    forwarder: Forwarder | None = None
    worker: asyncio.Task[None] | None = None
    stopping: bool = False
    background: set[asyncio.Task[None]] = field(default_factory=set)  # housekeeping tasks
    started_at: float = field(default_factory=time.time)
    limiter: RateLimiter = field(default_factory=RateLimiter)

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
