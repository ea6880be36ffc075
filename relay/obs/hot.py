"""Metric families counted on every webhook, kept in plain dicts and read at scrape time.

``prometheus_client``'s ``Counter.inc`` and ``Histogram.observe`` go through a chain of
method calls and a lock per value (its metrics are safe to update from any thread). The
relay counts every webhook's outcome, time to answer and source on the event loop's thread,
so those families keep their values in a dict instead: one dict update per count, and the
exposition is built from the dict when ``/metrics`` is scraped (a ``Collector``, public API).
Measured (docs/benchmarks.md): the three per-webhook updates cost about 26,000 instructions
through ``prometheus_client``.

Only the event loop's thread may count on these (a count is a read and a write, not atomic
across threads); a scrape may run on any thread: it reads a snapshot (``list(dict.items())``,
one call under the interpreter lock).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["HotCounter", "HotGauge", "HotHistogram"]

Labels = tuple[str, ...]


class _Family(Collector):
    """A metric family on ``registry``: its name, help text and label names."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        registry.register(self)

    def _empty(self) -> Metric:
        raise NotImplementedError

    def describe(self) -> Iterable[Metric]:
        return [self._empty()]


class _Values(_Family):
    """A family of one value per series (``values``, by label values), exposed as ``kind``."""

    kind: type[CounterMetricFamily] | type[GaugeMetricFamily]

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        super().__init__(name, documentation, labelnames, registry)
        self.values: dict[Labels, float] = {}

    def _empty(self) -> Metric:
        return self.kind(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = self.kind(self.name, self.documentation, labels=self.labelnames)
        for labels, value in list(self.values.items()):
            family.add_metric(labels, value)
        yield family


class HotCounter(_Values):
    """A labelled counter: ``values[labels] += 1`` (``inc``)."""

    kind = CounterMetricFamily

    def inc(self, labels: Labels, amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount


class HotGauge(_Values):
    """A labelled gauge: ``values[labels] = value`` (``set``); ``remove`` drops a series."""

    kind = GaugeMetricFamily

    def set(self, labels: Labels, value: float) -> None:
        self.values[labels] = value

    def remove(self, labels: Labels) -> None:
        self.values.pop(labels, None)


class HotHistogram(_Family):
    """A labelled histogram with fixed ``buckets`` (upper bounds, ascending; ``+Inf`` is
    added): ``observe`` adds one to the first bucket whose bound is at least the value
    (Prometheus's ``le``), and the value to the sum; the exposition is cumulative."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(set(bounds)) or not bounds:
            raise ValueError("buckets must be ascending and distinct")
        if bounds[-1] == float("inf"):
            bounds.pop()
        super().__init__(name, documentation, labelnames, registry)
        self.bounds = tuple(bounds)
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        # per series: a count per bucket (the last one +Inf), then the sum
        self.series: dict[Labels, list[float]] = {}

    def observe(self, labels: Labels, value: float) -> None:
        series = self.series.get(labels)
        if series is None:
            series = self.series[labels] = [0.0] * (len(self.bounds) + 2)
        series[bisect_left(self.bounds, value)] += 1
        series[-1] += value

    def _empty(self) -> Metric:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, series in list(self.series.items()):
            counts, total = series[:-1], series[-1]
            cumulative: list[tuple[str, float]] = []
            running = 0.0
            for le, count in zip(self._les, counts, strict=True):
                running += count
                cumulative.append((le, running))
            family.add_metric(labels, cumulative, total)
        yield family
