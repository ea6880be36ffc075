"""``python -m bench.instructions``: the in-process loops run, and callgrind's totals are read
from every thread's file (the counting itself is valgrind's; it is not run here: minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.instructions import _callgrind_total

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_both_loops_store_every_webhook_and_give_a_count_per_webhook(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    argv = [sys.executable, "-m", "bench.instructions", "--no-valgrind"]
    argv += ["--webhooks", "20", "60", "--in-flight", "8", "--json", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    # every webhook of each loop was answered 202 (stored): the loops measure the intake
    assert [r["statuses"] for r in result["runs"]] == [{"202": 20}, {"202": 60}]
    assert [r["delivered"] for r in result["runs"]] == [0, 0]  # outboundIQ down: intake alone
    assert result["meter"] == "wall seconds (no valgrind)"
    assert "per webhook" in run.stdout


def test_the_total_adds_every_threads_file(tmp_path: Path) -> None:
    """With one file per thread (``callgrind.out-01``, ...) each one's summary counts."""
    (tmp_path / "callgrind.out").write_text("events: Ir\nsummary: 1000\n")
    (tmp_path / "callgrind.out-02").write_text("events: Ir\nfn=x\n1 5\ntotals: 234\n")
    (tmp_path / "other.out").write_text("summary: 99999\n")
    assert _callgrind_total(tmp_path / "callgrind.out") == 1234


def test_a_reversed_pair_of_counts_is_refused() -> None:
    argv = [sys.executable, "-m", "bench.instructions", "--webhooks", "600", "200"]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "the first smaller" in run.stderr


@pytest.mark.slow
def test_the_instant_destination_delivers_every_dial_before_a_loop_ends(tmp_path: Path) -> None:
    """With an in-process 202 each loop counts the deliveries too: all of them, not the part
    that happened to finish before the loop did (the default, outboundIQ down, delivers none)."""
    out = tmp_path / "result.json"
    argv = [sys.executable, "-m", "bench.instructions", "--no-valgrind", "--destination"]
    argv += ["instant", "--webhooks", "20", "60", "--in-flight", "8", "--json", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    runs = json.loads(out.read_text())["runs"]
    assert [(r["statuses"], r["delivered"]) for r in runs] == [({"202": 20}, 20), ({"202": 60}, 60)]


@pytest.mark.slow
@pytest.mark.parametrize(("app", "stored"), [("bare", None), ("durable", 60), ("relay", 60)])
def test_each_app_answers_every_webhook_and_the_durable_ones_store_it(
    tmp_path: Path, app: str, stored: int | None
) -> None:
    """The baselines run through the same loops as the relay: bare Starlette keeps nothing,
    the durable floor and the relay keep one row per webhook of the loop."""
    out = tmp_path / "result.json"
    argv = [sys.executable, "-m", "bench.instructions", "--no-valgrind", "--app", app]
    argv += ["--webhooks", "20", "60", "--in-flight", "8", "--json", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["app"] == app
    assert [r["statuses"] for r in result["runs"]] == [{"202": 20}, {"202": 60}]
    assert result["runs"][1]["stored"] == stored
