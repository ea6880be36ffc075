"""``RelayMetrics``' per-event counters keep their label children: each source and outcome
still gets its own series, and repeated events add up on it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from relay.obs.metrics import RelayMetrics


def _samples(metrics: RelayMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_delivered_dials_are_counted_per_source() -> None:
    metrics = RelayMetrics()
    for source in ["crm", "five9", "crm", "crm"]:
        metrics.dial_delivered(source)
    assert _samples(metrics, "relay_dials_delivered_total") == {
        (("source", "crm"),): 3.0,
        (("source", "five9"),): 1.0,
    }


def test_webhook_outcomes_are_counted_per_source_and_outcome() -> None:
    metrics = RelayMetrics()
    for source, outcome in [("crm", "queued"), ("crm", "duplicate"), ("crm", "queued")]:
        metrics.webhook_outcome(source, outcome)
    assert _samples(metrics, "relay_webhooks_total") == {
        (("outcome", "queued"), ("source", "crm")): 2.0,
        (("outcome", "duplicate"), ("source", "crm")): 1.0,
    }
