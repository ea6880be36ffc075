"""Key holds: a key that was refused, and the sources that wait until it works again.

An outboundIQ key answered 401/403 (held under ``key_id(key)``), or a vendor refused a
resolving mapping's credentials (held under ``vendor_hold(source)``). While a key is held
its sources send nothing: their waiting dials are pushed to the hold's next probe, and one
of their dials probes the key every ``probe_seconds`` (``KeyHold.probe_due``). A success
releases the hold; so does a config reload (``KeyHolds.reset``), as the key may be fixed.

``KeyHolds`` is the registry (a read-only mapping of hold key to ``KeyHold``); it keeps the
``relay_held_keys`` and ``relay_source_held`` gauges in step with every change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from relay.core.sources import Source
from relay.obs.metrics import RelayMetrics

__all__ = ["KeyHold", "KeyHolds", "key_id", "sources_using", "vendor_hold"]


def key_id(key: SecretStr) -> str:
    """A process-local handle for a key that is not the key (never logged either)."""
    return hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]


def vendor_hold(source: str) -> str:
    """The hold key for ``source``'s vendor credentials (a resolving mapping's API client)."""
    return f"resolve:{source}"


def sources_using(key: SecretStr, sources: Mapping[str, Source]) -> frozenset[str]:
    """The names of the sources that send with ``key``."""
    wanted = key_id(key)
    return frozenset(
        name
        for name, src in sources.items()
        if src.api_key is not None and key_id(src.api_key) == wanted
    )


@dataclass
class KeyHold:
    """A refused key: its sources wait until a probe succeeds."""

    sources: frozenset[str]
    next_probe: float
    status: int
    probe_id: str | None = None  # the queue id of the dial probing now, if one is

    def probe_due(self, now: float) -> bool:
        """Whether one of the hold's dials should probe the key now."""
        return self.probe_id is None and now >= self.next_probe


class KeyHolds(Mapping[str, KeyHold]):
    """Every hold, by hold key; ``sources`` are the configured source names (for the gauges)."""

    def __init__(
        self, metrics: RelayMetrics, sources: Collection[str], *, probe_seconds: float
    ) -> None:
        self.metrics = metrics
        self.probe_seconds = probe_seconds
        self._names: Collection[str] = sources
        self._holds: dict[str, KeyHold] = {}

    def __getitem__(self, key: str) -> KeyHold:
        return self._holds[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._holds)

    def __len__(self) -> int:
        return len(self._holds)

    def held_sources(self) -> frozenset[str]:
        """Every source some hold covers."""
        return frozenset().union(*(h.sources for h in self._holds.values()))

    def hold_until(self, source: str) -> float | None:
        """When ``source``'s hold is next probed (None: it is not held)."""
        for hold in self._holds.values():
            if source in hold.sources:
                return hold.next_probe
        return None

    def hold(self, key: str, sources: frozenset[str], *, status: int, until: float) -> KeyHold:
        """Hold ``key`` (replacing its hold, if any): ``sources`` wait until ``until``."""
        hold = self._holds[key] = KeyHold(sources=sources, next_probe=until, status=status)
        self._publish()
        return hold

    def release(self, key: str) -> KeyHold | None:
        """Lift the hold on ``key``; the hold, or None when there was none."""
        hold = self._holds.pop(key, None)
        if hold is not None:
            self._publish()
        return hold

    def release_source(self, source: str) -> list[KeyHold]:
        """Lift every hold that covers ``source`` (its key works again); the holds lifted."""
        lifted = []
        for key, hold in list(self._holds.items()):
            if source in hold.sources:
                del self._holds[key]
                self._publish()
                lifted.append(hold)
        return lifted

    def drop(self, key: str) -> None:
        """Remove the hold on ``key`` (it has no dial left to probe with); a hold a config
        reload already lifted is gone already, which is fine."""
        self._holds.pop(key, None)
        self._publish()

    def reset(self, sources: Collection[str]) -> frozenset[str]:
        """A config reload: lift every hold, track ``sources`` now; the sources that were held."""
        self._names = sources
        held = self.held_sources()
        self._holds.clear()
        self._publish()
        return held

    def settle(self, queue_id: str, now: float) -> None:
        """The probe ``queue_id`` ended without deciding: its hold probes again later."""
        for hold in self._holds.values():
            if hold.probe_id == queue_id:
                hold.probe_id = None
                hold.next_probe = now + self.probe_seconds

    def _publish(self) -> None:
        self.metrics.held_keys.set(len(self._holds))
        held = self.held_sources()
        for name in self._names:
            self.metrics.held_sources.labels(name).set(1 if name in held else 0)
