"""The destination circuit: while outboundIQ itself is failing, one dial probes for everyone.

After ``threshold`` consecutive failures of outboundIQ itself (connection errors, timeouts,
5xx: ``policy.is_destination_failure``) the circuit opens: normal leasing stops and one real
dial probes every ``probe_seconds``. The first answer that is not such a failure closes it;
``record`` says so, and the caller makes every delayed dial due at once, so a backlog drains
right after recovery instead of after each dial's backoff. ``relay_destination_circuit_open``
follows the state.
"""

from __future__ import annotations

import structlog

from relay.delivery.policy import is_destination_failure
from relay.obs.metrics import RelayMetrics

__all__ = ["Circuit"]

log = structlog.get_logger("relay.delivery.circuit")


class Circuit:
    """The circuit's state; every method takes the time instead of reading a clock."""

    def __init__(self, metrics: RelayMetrics, *, threshold: int, probe_seconds: float) -> None:
        self.metrics = metrics
        self.threshold = threshold
        self.probe_seconds = probe_seconds
        self._failures = 0
        self._open = False
        self._next_probe = 0.0
        self._probe_id: str | None = None
        self._opened_at = 0.0

    @property
    def open(self) -> bool:
        """Whether outboundIQ is considered down (only probes are sent)."""
        return self._open

    @property
    def failures(self) -> int:
        """Consecutive destination failures so far."""
        return self._failures

    @property
    def next_probe(self) -> float:
        """When the next probe may be sent (meaningful while open)."""
        return self._next_probe

    @property
    def probe_id(self) -> str | None:
        """The queue id of the dial probing now, if one is."""
        return self._probe_id

    def record(self, status: int | None, *, now: float) -> bool:
        """Count outboundIQ's answer (``None``: none); True when this answer closed the circuit."""
        if is_destination_failure(status):
            self._failures += 1
            if not self._open and self._failures >= self.threshold:
                self._open = True
                self._opened_at = now
                self._next_probe = now + self.probe_seconds
                self.metrics.circuit_open.set(1)
                log.error("destination_circuit_opened", consecutive_failures=self._failures)
            return False
        self._failures = 0
        if not self._open:
            return False
        self._open = False
        self._probe_id = None
        self.metrics.circuit_open.set(0)
        log.info("destination_circuit_closed", outage_seconds=round(now - self._opened_at, 1))
        return True

    def probe_due(self, now: float) -> bool:
        """Whether the open circuit wants a probe now (none in flight, its time has come)."""
        return self._open and self._probe_id is None and now >= self._next_probe

    def probing(self, queue_id: str) -> None:
        """The dial ``queue_id`` is the probe now."""
        self._probe_id = queue_id

    def settle(self, queue_id: str, now: float) -> None:
        """The probe ``queue_id`` ended without closing the circuit: probe again later."""
        if self._probe_id == queue_id:
            self._probe_id = None
            self._next_probe = now + self.probe_seconds
