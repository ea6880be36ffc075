"""The chart's ``sources`` schema is the relay's own (``relay schema``): a typo fails ``helm``."""

from __future__ import annotations

import copy
from typing import Any

import helm_python as helm
import pytest

from tests.deploy import chart_schema
from tests.deploy.chart import CHART, ci_values, render


def test_chart_sources_schema_is_generated_from_relay_schema() -> None:
    """values.schema.json's `sources` is `relay schema`'s; run `make chart-schema` when not."""
    assert chart_schema.SCHEMA_FILE.read_text() == chart_schema.expected_text(), (
        "helm/outboundiq-relay/values.schema.json is stale: run `make chart-schema`"
    )


def _sqlite_values() -> dict[str, Any]:
    return copy.deepcopy(ci_values(CHART / "ci" / "sqlite-values.yaml"))


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["five9"].__setitem__("timezon", "UTC"),
        lambda s: s["five9"]["auth"].__setitem__("type", "token"),
        lambda s: s["five9"].__setitem__("coalesce_seconds", "soon"),
        lambda s: s.__setitem__("bad name!", {"auth": {"type": "none"}}),
    ],
    ids=["misspelt-key", "unknown-auth", "wrong-type", "bad-name"],
)
def test_helm_refuses_a_broken_source(change: Any) -> None:
    """A source the relay would refuse fails `helm template`, not the pod."""
    values = _sqlite_values()
    change(values["sources"])
    with pytest.raises(helm.HelmError):
        render(values)


def test_helm_accepts_the_shorthands() -> None:
    """`rate_limit: 50/s` and `allow_ips` as one comma-separated string pass, as in the relay."""
    values = _sqlite_values()
    values["sources"]["five9"]["rate_limit"] = "50/s"
    values["sources"]["five9"]["allow_ips"] = "203.0.113.0/24, 198.51.100.7"
    render(values)


def test_helm_refuses_a_short_admin_token() -> None:
    """The relay refuses an admin token under 16 characters: so does `helm template`."""
    values = _sqlite_values()
    values["admin"]["token"] = "too-short"
    with pytest.raises(helm.HelmError):
        render(values)
    values["admin"]["token"] = ""
    values["console"]["ingress"]["enabled"] = False  # the console needs the token
    render(values)
