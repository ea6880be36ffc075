"""Read a running relay's /metrics."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(
    url: str, name: str, *, client: httpx.Client | None = None
) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric ``name`` (a counter's ``_total`` series), with its labels;
    read through ``client`` when given (say, one bound to another local address)."""
    get = client.get if client is not None else httpx.get
    text = get(f"{url}/metrics", timeout=10).text
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out.append((dict(sample.labels), sample.value))
    return out


def value(url: str, name: str, *, client: httpx.Client | None = None, **labels: str) -> float:
    """The sum of ``name`` over the samples whose labels include ``labels``."""
    found = samples(url, name, client=client)
    return sum(v for lab, v in found if labels.items() <= lab.items())
