"""The metrics an operator alerts on beyond the queue: a silent dialer (each source's last
webhook), intake latency, the build, the process, config reloads; and no ``_created`` series."""

from __future__ import annotations

import platform
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from relay import __version__
from tests.conftest import dial_body
from tests.integration.reliability.conftest import ROOT, SOURCES
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayProcess, RelayThread
from tests.support.scrape import samples, value

CRM = {"X-Relay-Token": "crm-hook-secret"}
LAST = "relay_source_last_webhook_timestamp_seconds"


def _last_webhook(url: str) -> dict[str, float]:
    return {labels["source"]: v for labels, v in samples(url, LAST)}


def test_last_webhook_time_moves_only_for_an_authenticated_webhook(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Each configured source starts at the relay's start time; a refused webhook (wrong
    secret) leaves it, an authenticated one (queued or rejected alike) sets it to now, and an
    unknown source gets no series."""
    before_start = time.time()
    relay = start_relay()
    started = _last_webhook(relay.url)
    assert set(started) == {"crm", "other"}
    assert all(before_start <= t <= time.time() for t in started.values())

    url = f"{relay.url}/hooks/crm"
    assert httpx.post(url, json=dial_body(), headers={"X-Relay-Token": "wrong"}).status_code == 401
    assert httpx.post(f"{relay.url}/hooks/nope", json=dial_body()).status_code == 404
    assert _last_webhook(relay.url) == started

    sent = time.time()
    assert httpx.post(url, json=dial_body(dial_id="seen-1"), headers=CRM).status_code == 202
    after = _last_webhook(relay.url)
    assert after["crm"] >= sent > started["crm"]
    assert after["other"] == started["other"]

    resent = time.time()
    assert httpx.post(url, json={"dial_id": "x"}, headers=CRM).status_code == 422  # unmappable
    assert _last_webhook(relay.url)["crm"] >= resent


def test_intake_latency_is_counted_by_status_class(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Every webhook answered is observed once, under its status class."""
    relay = start_relay()
    url = f"{relay.url}/hooks/crm"
    for i in range(3):
        assert httpx.post(url, json=dial_body(dial_id=f"l{i}"), headers=CRM).status_code == 202
    assert httpx.post(url, json=dial_body(), headers={"X-Relay-Token": "bad"}).status_code == 401
    name = "relay_intake_latency_seconds"
    assert value(relay.url, f"{name}_count", status_class="2xx") == 3
    assert value(relay.url, f"{name}_count", status_class="4xx") == 1
    assert value(relay.url, f"{name}_count", status_class="5xx") == 0
    assert value(relay.url, f"{name}_sum", status_class="2xx") > 0
    buckets = sorted(
        (float(labels["le"]), v)
        for labels, v in samples(relay.url, f"{name}_bucket")
        if labels["status_class"] == "2xx"
    )
    counts = [v for _le, v in buckets]
    assert counts == sorted(counts) and buckets[-1] == (float("inf"), 3)


def test_build_info_and_process_metrics(start_relay: Callable[..., RelayThread]) -> None:
    """relay_build_info names the version, Python and queue backend; the process's CPU,
    memory, file descriptors and garbage collections are exported with the relay's own."""
    relay = start_relay()
    ((labels, one),) = samples(relay.url, "relay_build_info")
    assert one == 1
    assert labels == {
        "version": __version__,
        "python": platform.python_version(),
        "queue_backend": "sqlite",
    }
    assert value(relay.url, "process_resident_memory_bytes") > 0
    assert value(relay.url, "process_open_fds") > 0
    assert samples(relay.url, "process_cpu_seconds_total")
    assert samples(relay.url, "python_gc_collections_total")
    assert samples(relay.url, "python_info")


def _scrape(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=10).text


def test_reloads_are_counted_and_no_created_series(
    relay_process: Callable[..., RelayProcess], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """`relay serve` as a process: a good SIGHUP counts a success and moves the last-success
    time, adds the new source's series and drops the removed one's; a broken file counts a
    failure and moves nothing. No counter or histogram exports a `_created` series."""
    before_start = time.time()
    relay = relay_process()
    assert relay.proc is not None
    reloads = "relay_config_reloads_total"
    success_at = "relay_config_last_reload_success_timestamp_seconds"
    assert value(relay.url, reloads, result="success") == 0
    assert value(relay.url, reloads, result="failure") == 0
    started = value(relay.url, success_at)
    assert before_start <= started <= time.time()
    assert set(_last_webhook(relay.url)) == {"crm", "other"}

    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES.replace("  other:", "  newer:"))
    hup = time.time()
    relay.proc.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: value(relay.url, reloads, result="success") == 1)
    reloaded = value(relay.url, success_at)
    assert reloaded >= hup > started
    seen = _last_webhook(relay.url)
    assert set(seen) == {"crm", "newer"}
    assert seen["newer"] >= hup and seen["crm"] < hup  # crm kept its own time

    sources.write_text(SOURCES + "  broken:\n    mapping: generic\n")  # no auth
    relay.proc.send_signal(signal.SIGHUP)
    assert fake.wait_for(lambda: value(relay.url, reloads, result="failure") == 1)
    assert value(relay.url, reloads, result="success") == 1
    assert value(relay.url, success_at) == reloaded
    assert set(_last_webhook(relay.url)) == {"crm", "newer"}

    posted = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="c1"), headers=CRM)
    assert posted.status_code == 202
    text = _scrape(relay.url)
    assert "relay_webhooks_total{" in text and "relay_intake_latency_seconds_count" in text
    assert "_created" not in text


def test_every_exported_relay_metric_is_in_the_operations_table(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Each relay_* family a live relay exports is a row of docs/operations.md's metrics
    table, under the name Prometheus stores (a counter's with _total)."""
    operations = (ROOT / "docs" / "operations.md").read_text()
    table = operations.split("## Metrics (`GET /metrics`)", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`(relay_\w+)", table))
    relay = start_relay()
    httpx.get(f"{relay.url}/readyz")
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(_scrape(relay.url))
        if family.name.startswith("relay_")
    }
    assert "relay_source_last_webhook_timestamp_seconds" in exported
    assert exported <= documented, sorted(exported - documented)
