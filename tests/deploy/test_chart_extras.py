"""commonLabels, extraEnvFrom and initContainers reach the objects they are meant for."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy import chart
from tests.deploy.chart import ci_values, render


def _values(name: str, **extra: Any) -> dict[str, Any]:
    return {**ci_values(chart.CHART / "ci" / f"{name}-values.yaml"), **extra}


def test_common_labels_on_every_object_and_the_pods() -> None:
    """Every object the chart makes carries commonLabels; selectors stay as they were."""
    rendered = render(_values("sqlite"))
    assert len(rendered.docs) >= 10
    for doc in rendered.docs:
        assert doc["metadata"]["labels"]["cost-center"] == "dialing", doc["kind"]
    deployment = rendered.get("Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["cost-center"] == "dialing"
    assert "cost-center" not in deployment["spec"]["selector"]["matchLabels"]
    assert "cost-center" not in rendered.get("Service")["spec"]["selector"]
    assert "cost-center" not in render().get("Deployment")["metadata"]["labels"]


def test_extra_env_from_follows_the_existing_secret() -> None:
    """extraEnvFrom entries come after secretEnv.existingSecret, or alone without it."""
    more = [{"secretRef": {"name": "more"}}, {"configMapRef": {"name": "settings"}, "prefix": "X_"}]
    redis = render(_values("redis", extraEnvFrom=more))
    assert redis.container["envFrom"] == [{"secretRef": {"name": "relay-webhook-secrets"}}, *more]
    assert render(_values("sqlite")).container["envFrom"] == [
        {"configMapRef": {"name": "relay-settings"}}
    ]
    assert "envFrom" not in render().container


def test_init_containers_run_before_the_relay() -> None:
    """initContainers land in the pod spec as given; none by default."""
    rendered = render(_values("sqlite"))
    (init,) = rendered.pod["initContainers"]
    assert init["name"] == "wait-for-dns" and init["image"] == "busybox:1.36"
    assert [c["name"] for c in rendered.pod["containers"]] == ["outboundiq-relay"]
    assert "initContainers" not in render().pod


@pytest.mark.parametrize(
    "extra",
    [
        {"initContainers": [{"name": "no-image"}]},
        {"extraEnvFrom": [{"secretRef": {"name": "x"}, "secretKeyRef": {}}]},
        {"commonLabels": {"tier": 1}},
    ],
    ids=["init-without-image", "envfrom-typo", "label-not-string"],
)
def test_schema_rejects_bad_extras(extra: dict[str, Any]) -> None:
    """values.schema.json turns away an init container without image, a misspelt envFrom key
    and a non-string label."""
    with pytest.raises(helm.HelmError):
        render(_values("sqlite", **extra))
