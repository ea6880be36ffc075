"""Read a running relay's /metrics."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric ``name`` (a counter's ``_total`` series), with its labels."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out.append((dict(sample.labels), sample.value))
    return out


def value(url: str, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    return sum(v for lab, v in samples(url, name) if labels.items() <= lab.items())
