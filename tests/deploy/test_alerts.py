"""The chart's PrometheusRule: the documented alerts, each with a severity and a runbook."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import chart
from tests.deploy.chart import FULLNAME, NAMESPACE, ROOT, ci_values, render
from tests.deploy.test_dashboard import SUFFIXES, promql_metrics
from tests.support.relay_server import RelayThread

OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
#: The alerts block of docs/operations.md ("Alerts and runbooks").
DOC_RULES: list[dict[str, Any]] = yaml.safe_load(
    re.search(r"## Alerts and runbooks\s*```yaml\n(.*?)```", OPERATIONS, re.S).group(1)  # type: ignore[union-attr]
)["groups"][0]["rules"]
SELECTOR = f'job="{FULLNAME}", namespace="{NAMESPACE}"'


def _rules(values: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    rule = render(values).get("PrometheusRule")
    (group,) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def _sqlite(**prometheus_rule: Any) -> dict[str, Any]:
    values = ci_values(chart.CHART / "ci" / "sqlite-values.yaml")
    values["prometheusRule"] = {**values["prometheusRule"], **prometheus_rule}
    return values


def _anchors(markdown: str) -> set[str]:
    """Anchors a Markdown page offers: explicit <a id> tags and heading slugs."""
    ids = set(re.findall(r'<a id="([^"]+)"></a>', markdown))
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        ids.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return ids


def test_rule_is_off_by_default() -> None:
    """No PrometheusRule unless prometheusRule.enabled (the CRDs may not be installed)."""
    assert "PrometheusRule" not in render().kinds()
    assert "PrometheusRule" not in render(_sqlite(enabled=False)).kinds()
    assert "PrometheusRule" in render(_sqlite()).kinds()


def test_rule_validates_with_dialer_silent_off() -> None:
    """The rule without RelayDialerSilent still matches the PrometheusRule CRD's schema."""
    rendered = render(_sqlite(dialerSilent={"enabled": False}))
    rule = rendered.get("PrometheusRule")
    assert chart.validate_crds([rule]) == ["PrometheusRule ok"]
    assert "RelayDialerSilent" not in _rules(_sqlite(dialerSilent={"enabled": False}))


def test_every_documented_alert_is_shipped_as_documented() -> None:
    """Each alert of docs/operations.md is in the rule with the same expression and `for`,
    narrowed to this release's job and namespace, and the rule has no other."""
    rules = _rules(_sqlite())
    assert set(rules) == {r["alert"] for r in DOC_RULES}
    for documented in DOC_RULES:
        shipped = rules[documented["alert"]]
        expr = shipped["expr"].replace(f"{{{SELECTOR}}}", "").replace(f"{SELECTOR}, ", "")
        assert " ".join(expr.split()) == " ".join(documented["expr"].split())
        assert shipped.get("for") == documented.get("for")


def test_each_alert_has_severity_and_a_runbook_that_exists() -> None:
    """severity is critical or warning; runbook_url points at an anchor of docs/operations.md."""
    rules = _rules(_sqlite(runbookBaseUrl="https://docs.example.com/operations.md"))
    anchors = _anchors(OPERATIONS)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["labels"]["team"] == "contact-center"  # additionalRuleLabels
        base, anchor = rule["annotations"]["runbook_url"].split("#")
        assert base == "https://docs.example.com/operations.md"
        assert anchor == name.lower() and anchor in anchors, name
        assert rule["annotations"]["summary"]


def test_every_selector_is_narrowed_to_the_release() -> None:
    """Each series selector names this release's job and namespace, nothing else's."""
    for name, rule in _rules(_sqlite()).items():
        selectors = re.findall(r"relay_\w+(\{[^}]*\})?", rule["expr"])
        assert selectors and all(s.startswith("{" + SELECTOR) for s in selectors), name


@pytest.mark.parametrize(
    ("window", "seconds"), [("45m", 2700), ("90s", 90), ("2h", 7200), ("1d", 86400)]
)
def test_dialer_silent_compares_each_source_last_webhook_with_the_window(
    window: str, seconds: int
) -> None:
    """RelayDialerSilent: the newest last-webhook time of a source over the release's pods
    is older than `window`, written in seconds."""
    rules = _rules(_sqlite(dialerSilent={"window": window}))
    assert " ".join(rules["RelayDialerSilent"]["expr"].split()) == (
        "time() - max by (source) "
        f"(relay_source_last_webhook_timestamp_seconds{{{SELECTOR}}}) > {seconds}"
    )
    assert window in rules["RelayDialerSilent"]["annotations"]["summary"]


@pytest.mark.parametrize(
    "change",
    [{"dialerSilent": {"window": "30 minutes"}}, {"severity": "page"}, {"backlogAgeSeconds": 0}],
    ids=["bad-window", "unknown-key", "zero-threshold"],
)
def test_schema_rejects_bad_rule_values(change: dict[str, Any]) -> None:
    """values.schema.json turns away a malformed window, an unknown key and a zero threshold."""
    import helm_python as helm

    with pytest.raises(helm.HelmError):
        render(_sqlite(**change))


def test_every_alert_names_an_exported_metric(start_relay: Callable[..., RelayThread]) -> None:
    """Each alert's expression names only series found in a live relay's /metrics scrape."""
    relay = start_relay()
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(httpx.get(f"{relay.url}/metrics").text)
        for suffix in SUFFIXES[family.type]
    }
    for name, rule in _rules(_sqlite()).items():
        names = promql_metrics(rule["expr"])
        assert names and names <= exported, f"{name}: {sorted(names - exported)} not exported"
