"""The Grafana dashboard shipped in the chart queries only metrics a running relay exports."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.chart import CHART
from tests.support.relay_server import RelayThread

DASHBOARD = CHART / "dashboards" / "outboundiq-relay.json"
#: Series names a Prometheus metric family of each type exposes (the relay exports no
#: ``_created`` series).
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, labels or keywords.

    Label matchers ``{...}``, ranges ``[...]``, grouping label lists ``by (...)`` and strings are
    removed first; what is left and not followed by ``(`` names a series.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def _targets(node: Any) -> Iterator[str]:
    """Every PromQL string in the dashboard: panel targets and templating queries."""
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            yield node["expr"]
        definition = node.get("definition")
        if isinstance(definition, str) and definition.startswith("label_values("):
            yield definition.removeprefix("label_values(").rsplit(",", 1)[0]  # (series, label)
        for value in node.values():
            yield from _targets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _targets(item)


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def test_promql_metrics_extracts_names_only() -> None:
    """The extractor keeps series names and drops functions, labels, keywords and variables."""
    expr = (
        'histogram_quantile(0.95, sum by (le, source) (rate(a_bucket{state=~"x|y"}[5m])))'
        " / on (pod) group_left max(b_total offset 1h) + sum(c) without (d) > bool 1"
        " and ignoring(e) f{x='y'}[$__rate_interval]"
    )
    assert promql_metrics(expr) == {"a_bucket", "b_total", "c", "f"}


def test_dashboard_is_grafana_json(dashboard: dict[str, Any]) -> None:
    """Valid JSON with a uid, panels with unique ids, and a Prometheus data source variable."""
    assert dashboard["uid"] == "outboundiq-relay" and dashboard["title"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) >= 10
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels:
        if panel["type"] != "row":
            assert panel["targets"] and panel["datasource"]["uid"] == "${datasource}"


def test_every_query_names_an_exported_metric(
    dashboard: dict[str, Any], start_relay: Callable[..., RelayThread]
) -> None:
    """Each PromQL expression names only series found in a live relay's /metrics scrape."""
    relay = start_relay()
    scrape = httpx.get(f"{relay.url}/metrics").text
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(scrape)
        for suffix in SUFFIXES[family.type]
    }
    exprs = list(_targets(dashboard))
    assert len(exprs) >= 15
    used: set[str] = set()
    for expr in exprs:
        names = promql_metrics(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} names {sorted(names - exported)}, not exported"
        used |= names
    # What operators asked to see: webhooks, deliveries, retries, backlog size and age,
    # dead letters, held keys, forward latency, each source's last webhook, intake latency.
    assert {
        "relay_source_last_webhook_timestamp_seconds",
        "relay_intake_latency_seconds_bucket",
        "relay_webhooks_total",
        "relay_dials_delivered_total",
        "relay_dials_retried_total",
        "relay_queue_depth",
        "relay_queue_oldest_age_seconds",
        "relay_dials_dead_lettered_total",
        "relay_held_keys",
        "relay_forward_latency_seconds_bucket",
    } <= used


def test_every_query_filters_by_namespace_job_and_release(dashboard: dict[str, Any]) -> None:
    """`job` and `release` variables exist, chained after `namespace`, and every series
    selector of every panel uses all three (so one dashboard serves several releases)."""
    variables = [v["name"] for v in dashboard["templating"]["list"]]
    assert variables == ["datasource", "namespace", "release", "job"]
    by_name = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert 'namespace=~"$namespace"' in by_name["release"]["definition"]
    assert 'release=~"$release"' in by_name["job"]["definition"]
    wanted = 'namespace=~"$namespace", job=~"$job", release=~"$release"'
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            selectors = re.findall(r"relay_\w+(\{[^}]*\})?", target["expr"])
            assert selectors and all(wanted in s for s in selectors), target["expr"]


def test_service_monitor_labels_series_with_the_release() -> None:
    """The chart's ServiceMonitor adds the `release` label the dashboard filters on."""
    from tests.deploy.chart import RELEASE, render

    monitor = render({"serviceMonitor": {"enabled": True}}).get("ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert {"action": "replace", "targetLabel": "release", "replacement": RELEASE} in endpoint[
        "relabelings"
    ]
