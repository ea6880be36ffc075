"""Prometheus metrics (one registry per app, so tests can run many apps in one process).

Names are a contract with dashboards and alerts (docs/operations.md); keep them stable.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["RelayMetrics"]


class RelayMetrics:
    """Every metric the relay exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.webhooks = Counter(
            "relay_webhooks_total",
            "Webhooks received, by source and outcome "
            "(queued, duplicate, ignored, rejected, unauthorized, too_large, unsupported_media, "
            "rate_limited, unavailable, forbidden_ip, timeout, headers_too_large, "
            "method_not_allowed, bad_request, error).",
            ["source", "outcome"],
            registry=r,
        )
        self.delivered = Counter(
            "relay_dials_delivered_total", "Dials outboundIQ accepted.", ["source"], registry=r
        )
        self.retried = Counter(
            "relay_dials_retried_total",
            "Delivery attempts that will be retried, by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "relay_dials_dead_lettered_total",
            "Dials moved to the dead-letter store, by reason.",
            ["source", "reason"],
            registry=r,
        )
        self.forward_latency = Histogram(
            "relay_forward_latency_seconds",
            "Time of one POST /dials to outboundIQ.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.queue_depth = Gauge(
            "relay_queue_depth",
            "Dials in the queue, by state (ready, delayed, leased, dead, rejected).",
            ["state"],
            registry=r,
        )
        self.oldest_age = Gauge(
            "relay_queue_oldest_age_seconds",
            "Age of the oldest dial not yet delivered (0 when the queue is empty).",
            registry=r,
        )
        self.held_keys = Gauge(
            "relay_held_keys",
            "outboundIQ keys on hold after 401/403 (their dials wait).",
            registry=r,
        )
        self.held_sources = Gauge(
            "relay_source_held",
            "1 while the source's outboundIQ key is on hold.",
            ["source"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "relay_destination_circuit_open",
            "1 while outboundIQ itself is failing and deliveries are paused for probing.",
            registry=r,
        )
        self.heartbeat_age = Gauge(
            "relay_worker_heartbeat_age_seconds",
            "Seconds since the forwarder last made progress.",
            registry=r,
        )
        self.worker_restarts = Counter(
            "relay_worker_restarts_total",
            "Times the forwarder crashed and was started again.",
            registry=r,
        )
        self.auth_failures = Counter(
            "relay_auth_failures_total",
            "Webhooks rejected by source authentication.",
            ["source"],
            registry=r,
        )
        self.rejected_dropped = Counter(
            "relay_rejected_dropped_total",
            "Rejected requests dropped by the rejected store's retention limits, by reason "
            "(age, count).",
            ["reason"],
            registry=r,
        )
        self.connections_refused = Counter(
            "relay_connections_refused_total",
            "Connections closed before a request was read, by reason "
            "(header_timeout, head_too_large, max_connections, client_connections).",
            ["reason"],
            registry=r,
        )

        self.placeholder_values = Counter(
            "relay_placeholder_values_total",
            "Mapped fields that held a placeholder the sender did not fill (@Call.x@, "
            "--A--x--B--, ${input.x}, {{x}}, null), emptied, by source and Dials field.",
            ["source", "field"],
            registry=r,
        )
        self.unknown_values = Counter(
            "relay_unknown_values_total",
            "Mapped values outside outboundIQ's vocabulary (a call_direction the direction "
            "table does not know), sent as is, by source and Dials field.",
            ["source", "field"],
            registry=r,
        )

        self._webhook_children: dict[tuple[str, str], Any] = {}

    def webhook_outcome(self, source: str, outcome: str) -> None:
        """Count one webhook answer (the label children are kept: this runs per webhook)."""
        key = (source, outcome)
        child = self._webhook_children.get(key)
        if child is None:
            child = self._webhook_children[key] = self.webhooks.labels(source, outcome)
        child.inc()

    def vendor_value(self, source: str, kind: str, field: str) -> None:
        """Count one screened value: ``kind`` is ``placeholder`` or ``unknown``."""
        counter = self.placeholder_values if kind == "placeholder" else self.unknown_values
        counter.labels(source, field).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
