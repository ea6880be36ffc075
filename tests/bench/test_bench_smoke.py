"""The benchmark harness still runs end to end (tiny sizes; timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_quick_run_writes_every_scenario(tmp_path: Path) -> None:
    """`python -m bench --quick` runs every scenario and writes the JSON result."""
    out = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--intake-rounds",
            "2",
            "--intake-connections",
            "4",
            "8",
            "--load",
            "python",
            "--sink",
            "python",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(out.read_text())
    results = doc["results"]
    assert doc["meta"]["commit"]  # the run names the commit it measured (a git checkout here)
    assert set(results) == {
        "disk_fsync",
        "generator",
        "bare_intake",
        "durable_intake",
        "relay_intake",
        "relay_intake_forwarding",
        "latency",
        "forward_drain",
        "naive_vs_relay",
        "backlog_rss",
        "dial_history",
        "console_open",
        "redis_intake",
        "redis_drain",
    }
    for key in ("bare_intake", "relay_intake", "relay_intake_forwarding"):
        assert results[key]["requests"] > 0 and results[key]["errors"] == 0
    assert results["relay_intake"]["durable"] is True
    for key in ("bare_intake", "durable_intake"):  # the baselines run the relay's heap policy
        assert results[key]["gc_frozen_objects"] > 10_000
    floor = results["durable_intake"]  # bare + one row through the writer, in the same rounds
    assert floor["durable"] is True and floor["accepted"] > 0
    assert len(floor["round_rps"]) == 2 and set(floor["by_connections"]) == {"4", "8"}
    assert doc["ratios"]["durable_floor_to_bare"] is not None
    assert doc["ratios"]["relay_intake_to_durable_floor"] is not None
    assert "1b durable floor (bare + one stored row)" in run.stdout
    for key in ("bare_intake", "relay_intake"):  # alternating rounds at each connection count
        assert len(results[key]["round_rps"]) == 2
        assert set(results[key]["by_connections"]) == {"4", "8"}
        best = max(m["rps"] for m in results[key]["by_connections"].values())
        assert results[key]["rps"] == best  # the ceiling: the best median
    assert "relay_intake_to_bare_at_8_connections" in doc["ratios"]
    assert "8 connections: bare" in run.stdout
    assert "main" in results["relay_intake"]["cpu_us_per_request_by_thread"]
    assert set(results["latency"]) == {"fast", "slow", "down"}
    drain = results["forward_drain"]
    assert drain["measured_dials"] > 0 and drain["queue_bytes_per_100k"] > 0
    for one in (drain, drain["from_backfill"], drain["from_intake"]):  # each fill, 2 copies
        assert [r["dials_per_s"] > 0 for r in one["rounds"]] == [True, True]
    assert "      rounds: " in run.stdout
    assert set(results["naive_vs_relay"]) == {"naive", "relay"}
    assert results["backlog_rss"]["peak_rss_mb"] > 0
    history = results["dial_history"]
    for backend in ("sqlite", "redis"):  # history on and off, each measured
        if "skipped" in history[backend]:
            continue
        for mode in ("on", "off"):
            one = history[backend]["rounds"][mode][0]
            assert one["queued"] > 0 and one["bytes_per_delivered_dial"] is not None
            assert one["intake_rps"] > 0 and one["drain_dials_per_s"] is not None
        assert history[backend]["history_bytes_per_delivered_dial"] is not None
        alone = history[backend]["queue_alone"]  # the queue's own CPU, without HTTP
        assert alone["on"]["drain_cpu_us"] is not None and alone["enqueue_cpu_on_to_off"]
        assert doc["ratios"][f"history_drain_on_to_off_{backend}"] is not None
    assert "6 dial history, sqlite:" in run.stdout
    assert {t["target"] for t in doc["targets"]} and set(doc["ratios"])
    assert "targets:" in run.stdout
    console = results["console_open"]  # the intake with a console open, and without
    assert console["on"]["requests"] > 0 and console["off"]["requests"] > 0
    assert console["on"]["overview_polls"] >= 1 and console["on"]["overview_poll_failures"] == 0
    assert console["on"]["streamed_events"] > 0
    assert console["on"]["fixed_rate_cpu_us_per_request"] is not None
    assert doc["ratios"]["console_open_to_closed"] is not None
    assert doc["ratios"]["console_fixed_rate_cpu_open_to_closed"] is not None
    assert "7 console open / closed" in run.stdout
    assert console["tail"]["stream"] == "/admin/events" and console["tail"]["streamed_events"] > 0
    assert console["tail"]["stream_skipped_events"] == 0  # relay tail gets every event
    assert doc["ratios"]["tail_open_to_closed"] is not None
    assert "7 relay tail / none" in run.stdout
    redis_run = results["redis_intake"]  # over Redis, against bare Starlette
    if "skipped" not in redis_run:
        relay = redis_run["relay"]
        assert relay["requests"] > 0 and redis_run["durable"] is True
        assert relay["scripts_per_dial"] is not None and relay["round_trips_per_dial"] > 0
        assert doc["ratios"]["redis_intake_to_bare"] is not None
        assert "8 intake over Redis" in run.stdout
    redis_drain = results["redis_drain"]  # one replica and three, each on its own Redis
    if "skipped" not in redis_drain:
        for replicas in ("1", "3"):
            one = redis_drain[replicas]
            assert one["replicas"] == int(replicas) and one["left_in_queue"] == 0
            assert one["commands_per_dial"] > 0 and one["round_trips_per_dial"] > 0
        assert "9 drain over Redis, 3 replica(s)" in run.stdout
