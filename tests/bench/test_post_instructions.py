"""``python -m bench.post_instructions``: the forwarder's client POSTs through its own transport
to a real sink, every POST answered, in both loops (callgrind itself is not run here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_both_loops_post_every_dial_to_the_sink(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    argv = [sys.executable, "-m", "bench.post_instructions", "--no-valgrind"]
    argv += ["--posts", "30", "90", "--in-flight", "8", "--json", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    # the sink (nginx, or the Python sink without it) answers 200 to every POST
    assert [r["statuses"] for r in result["runs"]] == [{"200": 30}, {"200": 90}]
    assert result["meter"] == "wall seconds (no valgrind)"
    assert "per POST" in run.stdout


def test_a_reversed_pair_of_counts_is_refused() -> None:
    argv = [sys.executable, "-m", "bench.post_instructions", "--posts", "600", "200"]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "the first smaller" in run.stderr
