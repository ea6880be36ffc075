"""Prometheus metrics (one registry per app, so tests can run many apps in one process).

Names are a contract with dashboards and alerts (docs/operations.md); keep them stable.
Counters and histograms export no ``_created`` series (``disable_created_metrics``, applied
when the first ``RelayMetrics`` is built, which every way of starting the relay does).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

from relay.obs.hot import HotCounter, HotGauge, HotHistogram

__all__ = ["FORWARD_BUCKETS", "INTAKE_BUCKETS", "RelayMetrics"]

#: Seconds of one POST /dials to outboundIQ.
FORWARD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: Seconds from a webhook's arrival to its answer sent: a queued webhook takes a durable
#: commit (an fsync, milliseconds); a slow body may take up to RELAY_BODY_TIMEOUT_SECONDS.
INTAKE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15)


class RelayMetrics:
    """Every metric the relay exports: the relay's own, and the process's (CPU, memory, file
    descriptors, garbage collection, the Python version) on the same registry.

    ``version`` and ``queue_backend`` are the labels of ``relay_build_info``.
    """

    def __init__(self, *, version: str = "unknown", queue_backend: str = "unknown") -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(collector)
        self.webhooks = HotCounter(  # counted on every webhook: a plain dict (relay.obs.hot)
            "relay_webhooks_total",
            "Webhooks received, by source and outcome "
            "(queued, duplicate, ignored, rejected, unauthorized, too_large, unsupported_media, "
            "rate_limited, unavailable, forbidden_ip, timeout, headers_too_large, "
            "method_not_allowed, bad_request, error).",
            ["source", "outcome"],
            registry=r,
        )
        self.delivered = HotCounter(
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
        self.forward_latency = HotHistogram(
            "relay_forward_latency_seconds",
            "Time of one POST /dials to outboundIQ.",
            [],
            registry=r,
            buckets=FORWARD_BUCKETS,
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

        self._operator_metrics(r, version, queue_backend)
        self._status_classes = {group: (f"{group}xx",) for group in range(1, 6)}
        self._tracked: set[str] = set()  # the configured sources (last_webhook's series)

    def _operator_metrics(self, r: CollectorRegistry, version: str, queue_backend: str) -> None:
        """What an operator's alerts watch beyond the queue: a dialer gone silent, intake's
        speed, the build that runs, config reloads."""
        self.last_webhook = HotGauge(
            "relay_source_last_webhook_timestamp_seconds",
            "When the source's last authenticated webhook arrived (Unix time); the relay's "
            "start (or the reload that added the source) until one has.",
            ["source"],
            registry=r,
        )
        self.intake_latency = HotHistogram(
            "relay_intake_latency_seconds",
            "Time from a webhook's arrival to its answer sent, by status class (2xx, 4xx, 5xx).",
            ["status_class"],
            registry=r,
            buckets=INTAKE_BUCKETS,
        )
        self.build_info = Gauge(
            "relay_build_info",
            "Always 1: the relay's version, the Python version and the queue backend.",
            ["version", "python", "queue_backend"],
            registry=r,
        )
        self.build_info.labels(version, platform.python_version(), queue_backend).set(1)
        self.config_reloads = Counter(
            "relay_config_reloads_total",
            "Sources-file reloads (SIGHUP), by result (success, failure).",
            ["result"],
            registry=r,
        )
        for result in ("success", "failure"):
            self.config_reloads.labels(result)
        self.last_reload_success = Gauge(
            "relay_config_last_reload_success_timestamp_seconds",
            "When the sources in use were loaded (Unix time): the start, or the last "
            "successful reload.",
            registry=r,
        )

    def started(self, sources: Iterable[str], at: float) -> None:
        """The relay started at ``at`` with ``sources`` (its first sources file loaded)."""
        self.last_reload_success.set(at)
        self.track_sources(sources, since=at)

    def track_sources(self, names: Iterable[str], since: float) -> None:
        """The configured sources from now on (at start and on every reload): a new one's
        last-webhook time is ``since`` (so a dialer that never sends still shows its age), a
        source still configured keeps its own, and a removed one's series goes."""
        wanted = set(names)
        for name in self._tracked - wanted:
            self.last_webhook.remove((name,))
        for name in sorted(wanted - self._tracked):
            self.last_webhook.set((name,), since)
        self._tracked = wanted

    def source_seen(self, source: str) -> None:
        """A configured source's webhook passed authentication (this runs per webhook; a
        source no longer configured, its request in flight through a reload, is not
        brought back)."""
        if source in self._tracked:
            self.last_webhook.set((source,), time.time())

    def intake_answered(self, status: int, seconds: float) -> None:
        """One webhook's time from arrival to answer sent, by status class."""
        group = status // 100
        labels = self._status_classes.get(group) or (f"{group}xx",)
        self.intake_latency.observe(labels, seconds)

    def config_reloaded(self, ok: bool) -> None:
        """A reload of the sources file (SIGHUP) that succeeded, or failed."""
        self.config_reloads.labels("success" if ok else "failure").inc()
        if ok:
            self.last_reload_success.set(time.time())

    def webhook_outcome(self, source: str, outcome: str) -> None:
        """Count one webhook answer (this runs per webhook, on the event loop's thread)."""
        self.webhooks.inc((source, outcome))

    def dial_delivered(self, source: str) -> None:
        """Count one dial outboundIQ accepted (this runs per delivered dial, on the event
        loop's thread)."""
        self.delivered.inc((source,))

    def forward_timed(self, seconds: float) -> None:
        """One POST /dials took ``seconds`` (``relay_forward_latency_seconds``)."""
        self.forward_latency.observe((), seconds)

    def vendor_value(self, source: str, kind: str, field: str) -> None:
        """Count one screened value: ``kind`` is ``placeholder`` or ``unknown``."""
        counter = self.placeholder_values if kind == "placeholder" else self.unknown_values
        counter.labels(source, field).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
