"""Delivery parts wired as the forwarder wires them, on a real queue and a hand-moved clock."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.delivery.holds import KeyHolds
from relay.delivery.outcomes import ForwarderState, Outcomes
from relay.obs.metrics import RelayMetrics
from relay.queue.base import LeasedDial, NewDial
from relay.queue.sqlite import SqliteQueue
from tests.conftest import BASIC_SOURCES

__all__ = ["SOURCES", "START", "Bench", "Clock"]

# crm and shop send with one outboundIQ key (the default), other with its own.
SOURCES = (
    BASIC_SOURCES
    + """
  shop:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: shop-hook-secret}
"""
)

START = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Bench:
    """``Outcomes`` wired as the forwarder wires it, with what it did recorded."""

    def __init__(self, queue: SqliteQueue, sources: dict[str, Source], settings: Settings) -> None:
        self.queue = queue
        self.sources = sources
        self.settings = settings
        self.clock = Clock()
        self.metrics = RelayMetrics()
        self.state = ForwarderState(heartbeat=0.0)
        self.holds = KeyHolds(self.metrics, sources, probe_seconds=settings.key_probe_seconds)
        self.wakes = 0
        self.background: list[asyncio.Task[None]] = []
        self.outcomes = Outcomes(
            queue=queue,
            holds=self.holds,
            metrics=self.metrics,
            settings=settings,
            sources=lambda: self.sources,
            state=self.state,
            wake=self._wake,
            background=self._spawn,
            clock=self.clock,
        )

    def _wake(self) -> None:
        self.wakes += 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.background.append(asyncio.create_task(work))

    async def settle(self) -> None:
        """Wait for the background work ``Outcomes`` started."""
        await asyncio.gather(*self.background)

    async def enqueue(self, source: str = "crm", dial_id: str = "d-1", **kw: Any) -> None:
        received = kw.pop("received_at", self.clock.now)
        await self.queue.enqueue(NewDial(source, dial_id, b"{}", received, **kw), 3600)

    async def lease(self, source: str = "crm", dial_id: str = "d-1") -> LeasedDial:
        """Store one dial of ``source`` and lease it."""
        await self.enqueue(source, dial_id)
        (dial,) = await self.queue.lease(1, 60, now=self.clock.now, only_sources={source})
        return dial

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)

    async def due(self, source: str, at: float) -> list[str]:
        """The dial ids of ``source`` due by ``at`` (leased, to look)."""
        found = await self.queue.lease(100, 60, now=at, only_sources={source})
        return sorted(d.dial_id for d in found)
