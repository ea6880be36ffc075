"""``relay.obs.hot``'s families expose exactly what ``prometheus_client``'s own Counter,
Gauge and Histogram expose for the same updates: the dashboards and alerts read the text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from relay.obs.hot import HotCounter, HotGauge, HotHistogram
from relay.obs.metrics import INTAKE_BUCKETS

labels = st.sampled_from([("crm", "queued"), ("crm", "duplicate"), ("five9", "queued")])
seconds = st.one_of(
    st.floats(min_value=0, max_value=30, allow_nan=False),
    st.sampled_from([float(b) for b in INTAKE_BUCKETS]),  # on a bound: that bucket (le)
)


# As every relay process does (RelayMetrics): no ``_created`` series.
disable_created_metrics()  # type: ignore[no-untyped-call]


def _text(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


@given(st.lists(st.tuples(labels, st.sampled_from([1.0, 2.0, 0.5])), max_size=30))
def test_counter_exposes_what_prometheus_client_does(
    counts: list[tuple[tuple[str, str], float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    hot = HotCounter("relay_things_total", "Things.", ["source", "outcome"], registry=ours)
    reference = Counter("relay_things_total", "Things.", ["source", "outcome"], registry=theirs)
    for key, amount in counts:
        hot.inc(key, amount)
        reference.labels(*key).inc(amount)
    assert _text(ours) == _text(theirs)


@given(st.lists(st.tuples(st.sampled_from(["2xx", "4xx"]), seconds), max_size=40))
def test_histogram_exposes_what_prometheus_client_does(observed: list[tuple[str, float]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    hot = HotHistogram(
        "relay_wait_seconds", "Waits.", ["status_class"], registry=ours, buckets=INTAKE_BUCKETS
    )
    reference = Histogram(
        "relay_wait_seconds", "Waits.", ["status_class"], registry=theirs, buckets=INTAKE_BUCKETS
    )
    for group, value in observed:
        hot.observe((group,), value)
        reference.labels(group).observe(value)
    assert _text(ours) == _text(theirs)


def test_unlabelled_histogram_and_gauge_match_too() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    hot = HotHistogram("relay_post_seconds", "Posts.", [], registry=ours, buckets=(0.1, 1))
    reference = Histogram("relay_post_seconds", "Posts.", registry=theirs, buckets=(0.1, 1))
    hot_gauge = HotGauge("relay_seen_seconds", "Seen.", ["source"], registry=ours)
    gauge = Gauge("relay_seen_seconds", "Seen.", ["source"], registry=theirs)
    for value in (0.05, 0.1, 0.5, 7.0):
        hot.observe((), value)
        reference.observe(value)
    for name, at in (("crm", 1.0), ("five9", 2.0), ("crm", 3.0)):
        hot_gauge.set((name,), at)
        gauge.labels(name).set(at)
    hot_gauge.remove(("five9",))
    gauge.remove("five9")
    assert _text(ours) == _text(theirs)


def test_buckets_must_ascend() -> None:
    with pytest.raises(ValueError, match="ascending"):
        HotHistogram("relay_x_seconds", "X.", [], registry=CollectorRegistry(), buckets=(1, 0.5))


def test_a_name_taken_twice_is_refused_as_prometheus_client_refuses_it() -> None:
    registry = CollectorRegistry()
    HotCounter("relay_things_total", "Things.", ["source"], registry=registry)
    with pytest.raises(ValueError, match="Duplicated"):
        Counter("relay_things_total", "Things.", ["source"], registry=registry)
