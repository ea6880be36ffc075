"""The destination circuit: opens after consecutive failures of outboundIQ, probes, closes."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from relay.delivery.circuit import Circuit
from relay.obs.metrics import RelayMetrics


def _circuit(threshold: int = 3) -> tuple[Circuit, RelayMetrics]:
    metrics = RelayMetrics()
    return Circuit(metrics, threshold=threshold, probe_seconds=2.0), metrics


def _gauge(metrics: RelayMetrics) -> float | None:
    return metrics.registry.get_sample_value("relay_destination_circuit_open")


@pytest.mark.parametrize("failure", [None, 500, 503, 599])
def test_opens_after_threshold_consecutive_failures(failure: int | None) -> None:
    circuit, metrics = _circuit()
    with capture_logs() as logs:
        assert circuit.record(failure, now=10.0) is False
        assert circuit.record(failure, now=11.0) is False
        assert not circuit.open
        assert circuit.record(failure, now=12.0) is False
    assert circuit.open and circuit.failures == 3
    assert circuit.next_probe == 14.0
    assert _gauge(metrics) == 1
    assert logs == [
        {"event": "destination_circuit_opened", "log_level": "error", "consecutive_failures": 3}
    ]


@pytest.mark.parametrize("answer", [200, 400, 401, 404, 408, 429])
def test_any_answer_of_outboundiq_resets_the_count(answer: int) -> None:
    """Only failures of outboundIQ itself count (no answer, 5xx); a 429 is an answer."""
    circuit, _ = _circuit()
    circuit.record(503, now=1.0)
    circuit.record(503, now=1.0)
    circuit.record(answer, now=1.0)
    assert circuit.failures == 0
    circuit.record(503, now=1.0)
    circuit.record(503, now=1.0)
    assert not circuit.open


def test_further_failures_while_open_do_not_reopen() -> None:
    circuit, _ = _circuit(threshold=1)
    with capture_logs() as logs:
        circuit.record(None, now=1.0)
        circuit.record(None, now=5.0)
    assert circuit.next_probe == 3.0 and circuit.failures == 2
    assert len(logs) == 1


def test_the_first_answer_closes_it_once() -> None:
    circuit, metrics = _circuit(threshold=1)
    circuit.record(502, now=100.0)
    circuit.probing("42")
    with capture_logs() as logs:
        assert circuit.record(422, now=130.04) is True
        assert circuit.record(200, now=131.0) is False
    assert not circuit.open and circuit.probe_id is None and circuit.failures == 0
    assert _gauge(metrics) == 0
    assert logs == [
        {"event": "destination_circuit_closed", "log_level": "info", "outage_seconds": 30.0}
    ]


def test_a_closed_circuit_records_successes_silently() -> None:
    circuit, metrics = _circuit()
    with capture_logs() as logs:
        assert circuit.record(200, now=1.0) is False
    assert logs == [] and _gauge(metrics) == 0


def test_one_probe_at_a_time_every_probe_period() -> None:
    circuit, _ = _circuit(threshold=1)
    assert not circuit.probe_due(1e12)  # closed: nothing to probe
    circuit.record(None, now=10.0)
    assert not circuit.probe_due(11.9)
    assert circuit.probe_due(12.0)
    circuit.probing("7")
    assert circuit.probe_id == "7" and not circuit.probe_due(100.0)
    circuit.settle("8", now=50.0)  # not the probe: nothing changes
    assert circuit.probe_id == "7"
    circuit.settle("7", now=50.0)  # the probe failed too: the next in a period
    assert circuit.probe_id is None and circuit.next_probe == 52.0
    assert circuit.open and circuit.probe_due(52.0)
