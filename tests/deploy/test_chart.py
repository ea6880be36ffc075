"""The Helm chart, rendered by Helm's own template engine, checked against Kubernetes schemas."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.deploy import chart
from tests.deploy.chart import CI_VALUES, FULLNAME, Rendered, ci_values, render
from tests.deploy.chart import changed as _with

#: Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas shipped.
KUBE_VERSIONS = ("1.25", kubernetes_validate.latest_version())
CI = pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.stem)


@pytest.fixture(scope="module")
def sqlite() -> Rendered:
    return render(ci_values(chart.CHART / "ci" / "sqlite-values.yaml"))


@pytest.fixture(scope="module")
def redis() -> Rendered:
    return render(ci_values(chart.CHART / "ci" / "redis-values.yaml"))


def _env(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in rendered.container["env"]}


def test_ci_values_files_exist() -> None:
    """There is a CI values file for each queue backend."""
    assert [p.name for p in CI_VALUES] == ["redis-values.yaml", "sqlite-values.yaml"]


@CI
def test_lint_clean(values_file: Path) -> None:
    """`helm lint --strict` with the CI values reports no error and no warning."""
    report = chart.lint(ci_values(values_file))
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_lint_clean_with_defaults() -> None:
    """The chart's own defaults lint clean too."""
    report = chart.lint(None)
    assert report["errors"] == [] and not [m for m in report["messages"] if m["severity"] >= 2]


@CI
def test_every_manifest_matches_kubernetes_schemas(values_file: Path) -> None:
    """Every rendered object validates (strictly) against the Kubernetes or its CRD's schema."""
    rendered = render(ci_values(values_file))
    builtin = [d for d in rendered.docs if d["kind"] not in chart.CRD_KINDS]
    crds = [d for d in rendered.docs if d["kind"] in chart.CRD_KINDS]
    assert len(builtin) >= 8
    for doc in builtin:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)
    assert {d["kind"] for d in crds} == chart.CRD_KINDS & rendered.kinds()
    assert chart.validate_crds(crds) == [f"{d['kind']} ok" for d in crds]


def test_crd_validator_rejects_a_broken_route(redis: Rendered) -> None:
    """The CRD check fails on a wrong HTTPRoute (a string port), so its "ok" means something."""
    route = copy.deepcopy(redis.get("HTTPRoute"))
    route["spec"]["rules"][0]["backendRefs"][0]["port"] = "eighty"
    (line,) = chart.validate_crds([route])
    assert line.startswith("HTTPRoute ") and "integer" in line


def test_sqlite_mode_one_pod_on_a_volume(sqlite: Rendered) -> None:
    """sqlite: one replica, Recreate, the queue file on the chart's PVC."""
    deployment = sqlite.get("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pvc = sqlite.get("PersistentVolumeClaim", "-queue")
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"
    volumes = {v["name"]: v for v in sqlite.pod["volumes"]}
    assert volumes["queue"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in sqlite.container["volumeMounts"]}
    url = _env(sqlite)["RELAY_QUEUE_URL"]["value"]
    assert url == f"sqlite:///{mounts['queue']}/queue.db"
    assert sqlite.maybe("HorizontalPodAutoscaler") is None


def test_redis_mode_scales_out_with_url_from_existing_secret(redis: Rendered) -> None:
    """redis: rolling updates, no PVC, an HPA, the queue URL read from the named Secret."""
    deployment = redis.get("Deployment")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    assert redis.get("HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3
    assert redis.maybe("PersistentVolumeClaim") is None
    assert "queue" not in {v["name"] for v in redis.pod["volumes"]}
    ref = _env(redis)["RELAY_QUEUE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "relay-redis", "key": "url"}
    assert redis.maybe("Secret") is None  # everything comes from existing Secrets


def test_redis_url_from_values_goes_into_the_chart_secret() -> None:
    """queue.redis.url is stored in the chart's Secret and referenced from there, not inlined."""
    values = _with(
        ci_values(chart.CHART / "ci" / "redis-values.yaml"),
        **{"queue.redis": {"url": "redis://:pw@redis:6379/0"}},
    )
    rendered = render(values)
    ref = _env(rendered)["RELAY_QUEUE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == FULLNAME
    assert rendered.secret_data()[ref["key"]] == "redis://:pw@redis:6379/0"
    assert "redis://" not in str(rendered.get("Deployment"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"queue.backend": "redis"},
            "queue.backend=redis needs the Redis URL: set queue.redis.existingSecret.name",
        ),
        ({"replicaCount": 2}, "replicaCount=2 with queue.backend=sqlite"),
        ({"autoscaling.enabled": True}, "autoscaling.enabled=true with queue.backend=sqlite"),
        (
            {"terminationGracePeriodSeconds": 20},
            "terminationGracePeriodSeconds=20 must exceed preStopSleepSeconds",
        ),
    ],
    ids=["redis-without-url", "sqlite-replicas", "sqlite-hpa", "short-grace"],
)
def test_render_fails_with_a_clear_message(changes: dict[str, Any], message: str) -> None:
    """A missing Redis URL or several pods on one SQLite file stop the render and say why."""
    values = _with(ci_values(chart.CHART / "ci" / "sqlite-values.yaml"), **changes)
    with pytest.raises(helm.HelmRenderError) as caught:
        render(values)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "changes",
    [{"queue.backend": "postgres"}, {"replicaCount": "two"}, {"replicas": 2}],
    ids=["unknown-backend", "wrong-type", "typo"],
)
def test_schema_rejects_bad_values(changes: dict[str, Any]) -> None:
    """values.schema.json turns away an unknown backend, a wrong type and a misspelt key."""
    with pytest.raises(helm.HelmError):
        render(_with(ci_values(chart.CHART / "ci" / "sqlite-values.yaml"), **changes))


@CI
def test_probes_and_graceful_stop(values_file: Path) -> None:
    """Liveness on /healthz, readiness on /readyz, and a grace period covering preStop + drain."""
    rendered = render(ci_values(values_file))
    c = rendered.container
    port_names = {p["name"] for p in c["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert c[probe]["httpGet"]["path"] == path
        assert c[probe]["httpGet"]["port"] in port_names
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = float(_env(rendered)["RELAY_SHUTDOWN_GRACE_SECONDS"]["value"])
    assert sleep > 0
    assert rendered.pod["terminationGracePeriodSeconds"] > sleep + drain


@CI
def test_restricted_security_context(values_file: Path) -> None:
    """Non-root, read-only root FS with an emptyDir /tmp, no escalation, drop ALL, seccomp."""
    rendered = render(ci_values(values_file))
    pod, c = rendered.pod, rendered.container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
    assert {v["name"]: v for v in pod["volumes"]}[tmp["name"]] == {
        "name": tmp["name"],
        "emptyDir": {},
    }
    assert pod["automountServiceAccountToken"] is False


def test_checksums_roll_pods_on_config_and_secret_changes() -> None:
    """checksum/config follows sources and mapping modules; checksum/secret follows the Secret."""
    base = ci_values(chart.CHART / "ci" / "sqlite-values.yaml")
    before = render(base).annotations()
    src = render(_with(base, **{"sources.crm.timezone": "America/Denver"})).annotations()
    module = render(_with(base, **{"mappings.modules": {"acme.py": "x = 1\n"}})).annotations()
    secret = render(_with(base, **{"secretEnv.values.CRM_HOOK_SECRET": "rotated"})).annotations()
    assert src["checksum/config"] != before["checksum/config"]
    assert src["checksum/secret"] == before["checksum/secret"]
    assert module["checksum/config"] != before["checksum/config"]
    assert secret["checksum/secret"] != before["checksum/secret"]
    assert secret["checksum/config"] == before["checksum/config"]
    assert render(base).annotations() == before  # stable when nothing changed


def test_sqlite_secret_references_resolve(sqlite: Rendered) -> None:
    """Every ${VAR} in the sources is an env var from the chart Secret, and every key exists."""
    env = _env(sqlite)
    data = sqlite.secret_data()
    for entry in env.values():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == FULLNAME and ref["key"] in data, entry
    assert len(sqlite.source_vars()) == 4
    for var in sqlite.source_vars():
        assert env[var]["valueFrom"]["secretKeyRef"]["key"] == var
    assert data["outboundiq-api-key"] == "oiq-ci-default-key"
    assert data["admin-token"] == "ci-admin-token-0123456789"
    assert env["RELAY_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "admin-token"
    assert "ci-five9-token" not in str(sqlite.get("Deployment"))  # values only in the Secret
    assert "ci-admin-token" not in str(sqlite.get("Deployment"))
    assert "ci-five9-token" not in sqlite.notes


def test_redis_secrets_come_from_existing_secrets(redis: Rendered) -> None:
    """existingSecret: the key by secretKeyRef, the ${VAR}s by envFrom of the named Secret."""
    env = _env(redis)
    assert env["RELAY_OUTBOUNDIQ_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "relay-outboundiq",
        "key": "api-key",
    }
    assert env["RELAY_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "relay-admin",
        "key": "token",
    }
    assert redis.container["envFrom"] == [{"secretRef": {"name": "relay-webhook-secrets"}}]
    assert redis.source_vars() == {"GENESYS_API_KEY", "FIVE9_HOOK_TOKEN"}  # from that Secret


def test_sources_and_mappings_are_mounted(sqlite: Rendered) -> None:
    """The sources ConfigMap sits at RELAY_SOURCES_FILE; mapping modules at RELAY_MAPPINGS_DIR."""
    env = _env(sqlite)
    mounts = {m["name"]: m["mountPath"] for m in sqlite.container["volumeMounts"]}
    volumes = {v["name"]: v for v in sqlite.pod["volumes"]}
    assert env["RELAY_SOURCES_FILE"]["value"] == mounts["sources"] + "/sources.yaml"
    assert volumes["sources"]["configMap"]["name"] == FULLNAME + "-sources"
    assert env["RELAY_MAPPINGS_DIR"]["value"] == mounts["mappings"]
    modules = sqlite.get("ConfigMap", "-mappings")["data"]
    assert volumes["mappings"]["configMap"]["name"] == FULLNAME + "-mappings"
    assert "def mapping(options)" in modules["acme.py"]


def test_optional_objects_follow_their_switches(sqlite: Rendered, redis: Rendered) -> None:
    """Each optional object appears exactly when switched on; the PDB always does."""
    assert {"PodDisruptionBudget", "Ingress", "ServiceMonitor", "NetworkPolicy"} <= sqlite.kinds()
    assert "HTTPRoute" not in sqlite.kinds()
    assert {"PodDisruptionBudget", "HTTPRoute", "HorizontalPodAutoscaler"} <= redis.kinds()
    assert "Ingress" not in redis.kinds()
    defaults = render()
    assert defaults.kinds().isdisjoint(
        {"Ingress", "HTTPRoute", "ServiceMonitor", "NetworkPolicy", "HorizontalPodAutoscaler"}
    )
    egress_ports = {
        p["port"] for rule in redis.get("NetworkPolicy")["spec"]["egress"] for p in rule["ports"]
    }
    assert {53, 443, 6379} <= egress_ports
    paths = sqlite.get("Ingress")["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/hooks"]  # /metrics stays inside the cluster


def test_dashboard_configmap_for_grafana_sidecar(sqlite: Rendered) -> None:
    """The dashboard ConfigMap carries the sidecar label and the dashboard JSON verbatim."""
    cm = sqlite.get("ConfigMap", "-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (chart.CHART / "dashboards" / "outboundiq-relay.json").read_text()
    assert cm["data"]["outboundiq-relay.json"].strip() == shipped.strip()


def test_notes_print_each_webhook_url(sqlite: Rendered, redis: Rendered) -> None:
    """NOTES.txt lists each source's public URL, with the query secret as a placeholder."""
    assert "POST https://relay.ci.example.com/hooks/five9?token=<secret>" in sqlite.notes
    assert "POST https://relay.ci.example.com/hooks/crm\n" in sqlite.notes
    assert "X-Relay-Token: <secret>" in sqlite.notes
    assert "POST https://relay.ci.example.com/hooks/genesys\n" in redis.notes
    assert "X-Api-Key: <secret>" in redis.notes
    assert "port-forward" in render().notes  # nothing public: say how to reach it


#: What the redis CI values' existing Secrets would hold on a cluster.
EXISTING_SECRETS = {
    "relay-redis": {"url": "redis://127.0.0.1:6379/0"},
    "relay-outboundiq": {"api-key": "oiq-existing-key"},
    "relay-admin": {"token": "existing-admin-token-0123"},
    "relay-webhook-secrets": {"GENESYS_API_KEY": "g-key", "FIVE9_HOOK_TOKEN": "f9-token"},
}


def _pod_env(rendered: Rendered, tmp_path: Path) -> dict[str, str]:
    """The container's environment as the kubelet would build it, mounts moved under tmp_path."""
    secrets = {FULLNAME: rendered.secret_data(), **EXISTING_SECRETS}
    env: dict[str, str] = {}
    for source in rendered.container.get("envFrom", []):
        if "secretRef" in source:  # extraEnvFrom's ConfigMaps hold no setting the check needs
            env.update(secrets[source["secretRef"]["name"]])
    for entry in rendered.container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secrets[ref["name"]][ref["key"]]
    sources = tmp_path / env["RELAY_SOURCES_FILE"].lstrip("/")
    sources.parent.mkdir(parents=True)
    sources.write_text(rendered.sources_yaml())
    env["RELAY_SOURCES_FILE"] = str(sources)
    mappings = tmp_path / env["RELAY_MAPPINGS_DIR"].lstrip("/")
    mappings.mkdir(parents=True)
    modules = rendered.all("ConfigMap")
    for cm in (m for m in modules if m["metadata"]["name"].endswith("-mappings")):
        for name, text in cm["data"].items():
            (mappings / name).write_text(text)
    env["RELAY_MAPPINGS_DIR"] = str(mappings)
    return env


@CI
def test_rendered_config_passes_relay_check(
    values_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`relay check` accepts the rendered sources file with the env the pod gets from Secrets."""
    from relay.cli import main

    rendered = render(ci_values(values_file))
    for name, value in _pod_env(rendered, tmp_path).items():
        monkeypatch.setenv(name, value)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    for source in ci_values(values_file)["sources"]:
        assert f"ok  {source}: POST /hooks/{source}" in out
    assert "NO KEY" not in out


def test_every_value_is_commented() -> None:
    """Each key in values.yaml has a comment above it, or sits inside a commented block."""
    lines = (chart.CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    missing = []
    for n, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z_][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        before = next((p for p in reversed(lines[:n]) if p.strip()), "")
        commented = before.strip().startswith("#") and before.index("#") == indent
        inherited = bool(stack) and stack[-1][1]
        if not (commented or inherited or match.group(3).strip() == ""):
            missing.append(f"line {n + 1}: {match.group(2)}")
        stack.append((indent, commented or inherited))
    assert missing == []
