"""The console stays off the public Ingress: port-forward by default, an internal Ingress on
request (docs/console.md, "Exposing it safely")."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy import chart
from tests.deploy.chart import FULLNAME, changed, ci_values, render

SQLITE = chart.CHART / "ci" / "sqlite-values.yaml"


def _sqlite(**changes: Any) -> dict[str, Any]:
    return changed(ci_values(SQLITE), **changes)


def _paths(ingress: dict[str, Any]) -> list[str]:
    return [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]


def test_no_ingress_routes_the_console_by_default() -> None:
    defaults = render({"ingress": {"enabled": True}, "admin": {"token": "x" * 20}})
    (public,) = defaults.all("Ingress")
    assert _paths(public) == ["/hooks"]
    assert "port-forward" in defaults.notes
    assert "http://127.0.0.1:8080/console/" in defaults.notes


def test_the_console_ingress_is_its_own_host_and_path() -> None:
    rendered = render(ci_values(SQLITE))
    public = rendered.get("Ingress")
    console = rendered.get("Ingress", "-console")
    assert _paths(public) == ["/hooks"]
    assert _paths(console) == ["/console"]
    assert [r["host"] for r in console["spec"]["rules"]] == ["relay-console.ci.internal"]
    assert console["spec"]["ingressClassName"] == "nginx-internal"
    allow = "nginx.ingress.kubernetes.io/whitelist-source-range"
    assert console["metadata"]["annotations"][allow] == "10.0.0.0/8"
    assert console["spec"]["tls"] == [
        {"hosts": ["relay-console.ci.internal"], "secretName": "relay-console-tls"}
    ]
    backend = console["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULLNAME, "port": {"number": 80}}
    assert "https://relay-console.ci.internal/console/" in rendered.notes


def test_without_tls_the_notes_warn_about_the_cookie() -> None:
    rendered = render(_sqlite(**{"console.ingress.tls": []}))
    assert "http://relay-console.ci.internal/console/" in rendered.notes
    assert "session cookie travels in clear" in rendered.notes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"ingress.hosts": [{"host": "relay.ci.example.com", "paths": [{"path": "/"}]}]},
            "path / would route /console or /admin through the public ingress",
        ),
        (
            {"ingress.hosts": [{"host": "h.example.com", "paths": [{"path": "/console"}]}]},
            "path /console would route",
        ),
        (
            {
                "httpRoute.enabled": True,
                "httpRoute.rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}],
            },
            "path / would route",
        ),
        (
            {
                "httpRoute.enabled": True,
                "httpRoute.rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/admin/events"}}]}
                ],
            },
            "path /admin/events would route",
        ),
        (
            {"admin": {"token": ""}},
            "console.ingress.enabled=true needs the console",
        ),
        (
            {"console.ingress.host": "relay.ci.example.com"},
            "is a host of the public ingress",
        ),
    ],
    ids=["slash", "console-path", "route-slash", "route-admin", "no-token", "public-host"],
)
def test_exposing_the_console_publicly_fails_the_render(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmRenderError) as caught:
        render(_sqlite(**changes))
    assert message in str(caught.value)


def test_the_schema_refuses_an_unknown_console_key() -> None:
    with pytest.raises(helm.HelmError):
        render(_sqlite(**{"console.ingress.path": "/"}))


def _env(rendered: chart.Rendered) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in rendered.container["env"]}


def test_the_hook_urls_are_under_the_public_ingress_host() -> None:
    public = {"enabled": True, "hosts": [{"host": "hooks.example.com", "paths": []}]}
    with_tls = render({"ingress": {**public, "tls": [{"hosts": ["hooks.example.com"]}]}})
    assert _env(with_tls)["RELAY_PUBLIC_URL"] == "https://hooks.example.com"
    assert _env(render({"ingress": public}))["RELAY_PUBLIC_URL"] == "http://hooks.example.com"
    assert "RELAY_PUBLIC_URL" not in _env(render({}))  # no ingress: the address opened
    chosen = {"ingress": public, "relay": {"extraEnv": {"RELAY_PUBLIC_URL": "https://x.io"}}}
    env = [e for e in render(chosen).container["env"] if e["name"] == "RELAY_PUBLIC_URL"]
    assert env == [{"name": "RELAY_PUBLIC_URL", "value": "https://x.io"}]
