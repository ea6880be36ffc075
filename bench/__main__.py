"""``python -m bench`` (``make bench``): every scenario in one run, a table, a JSON result.

See docs/benchmarks.md for what each scenario measures and how to read the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.console import console_cost
from bench.history import history_cost
from bench.load import wrk_available
from bench.procs import cores, nginx_binary
from bench.redis_drain import redis_drain
from bench.redis_intake import redis_intake
from bench.report import ratios, table, targets
from bench.scenarios import Bench, Plan

SCENARIOS = (
    "disk",
    "generator",
    "bare",
    "relay",
    "relay-forwarding",
    "latency",
    "drain",
    "naive",
    "backlog",
    "history",
    "console",
    "redis-intake",
    "redis-drain",
)


def _commit() -> str | None:
    """The commit the run measured (``+changes`` when the work tree differs); None outside
    a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def build_plan(args: argparse.Namespace, workdir: Path) -> Plan:
    plan = Plan(workdir=workdir)
    if args.quick:
        plan.duration, plan.dials, plan.backlog, plan.backlog_seconds = 0.5, 200, 1000, 0.5
        plan.rate, plan.connections, plan.transports = 200.0, 8, ("relay",)
        plan.latency_rounds, plan.latency_seconds = 1, 0.5
        plan.intake_rounds, plan.intake_connections = 1, (8,)
        plan.history_rounds, plan.history_queue_rounds = 1, 2
        plan.console_rounds, plan.drain_rounds = 1, 2
    for name in (
        "duration",
        "dials",
        "backlog",
        "rate",
        "connections",
        "forward_concurrency",
        "intake_rounds",
        "history_rounds",
        "history_queue_rounds",
        "console_rounds",
        "drain_rounds",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(plan, name, value)
    if args.intake_connections:
        plan.intake_connections = tuple(args.intake_connections)
    plan.load = args.load if args.load != "auto" else ("wrk" if wrk_available() else "python")
    wants_nginx = args.sink in ("auto", "nginx") and nginx_binary() is not None
    plan.sink = "nginx" if wants_nginx else "python"
    return plan


def run(plan: Plan, only: tuple[str, ...] = SCENARIOS) -> dict[str, Any]:
    bench = Bench(plan)
    steps = {
        "disk_fsync": bench.disk_fsync,
        "generator": bench.generator_ceiling,
        "bare_intake": bench.bare_intake,
        "relay_intake": bench.relay_intake,
        "relay_intake_forwarding": lambda: bench.relay_intake(forwarding=True),
        "latency": bench.latency_at_rate,
        "forward_drain": bench.forward_drain,
        "naive_vs_relay": bench.naive_vs_relay,
        "backlog_rss": bench.backlog_rss,
        "dial_history": lambda: history_cost(bench),
        "console_open": lambda: console_cost(bench),
        "redis_intake": lambda: redis_intake(bench),
        "redis_drain": lambda: redis_drain(bench),
    }
    names = dict(zip(SCENARIOS, steps, strict=True))
    results: dict[str, Any] = {}
    for short in only:
        key = names[short]
        if key in results:
            continue
        if short in ("bare", "relay") and {"bare", "relay"} <= set(only):
            # measured together, in alternating rounds (Bench.intake_rounds)
            started = time.monotonic()
            print("bench: bare_intake + relay_intake ...", file=sys.stderr, flush=True)
            trio = bench.intake_rounds()  # and the durable floor between them
            results["bare_intake"], results["relay_intake"] = trio["bare"], trio["relay"]
            results["durable_intake"] = trio["durable"]
            print(f"bench: intake done in {time.monotonic() - started:.1f} s", file=sys.stderr)
            continue
        started = time.monotonic()
        print(f"bench: {key} ...", file=sys.stderr, flush=True)
        results[key] = steps[key]()
        print(f"bench: {key} done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10)")
    parser.add_argument("--connections", type=int, help="closed-loop connections (default 32)")
    parser.add_argument("--rate", type=float, help="fixed-rate webhooks/s (default 1000)")
    parser.add_argument(
        "--intake-rounds", type=int, help="alternating bare/relay intake rounds (default 3)"
    )
    parser.add_argument(
        "--intake-connections",
        type=int,
        nargs="+",
        help="connection counts the intake ceilings are measured at (default 32 64 128)",
    )
    parser.add_argument("--dials", type=int, help="dials pre-queued for the drain (100000)")
    parser.add_argument(
        "--history-rounds",
        type=int,
        help="dial history off/on rounds, each backend, alternated (default 2)",
    )
    parser.add_argument(
        "--history-queue-rounds",
        type=int,
        help="dial history off/on rounds through the queue alone, no HTTP (default 6)",
    )
    parser.add_argument(
        "--console-rounds",
        type=int,
        help="intake rounds with the console open and closed, alternated (default 3)",
    )
    parser.add_argument(
        "--drain-rounds",
        type=int,
        help="drains of each fill (a copy each time), raw aiohttp before each (default 3)",
    )
    parser.add_argument("--backlog", type=int, help="dials in the RSS backlog (1000000)")
    parser.add_argument(
        "--forward-concurrency", type=int, help="the relay's RELAY_FORWARD_CONCURRENCY (64)"
    )
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--sink", choices=["auto", "nginx", "python"], default="auto")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these")
    parser.add_argument("--json", type=Path, help="result file (default bench/results/...)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        plan = build_plan(args, Path(tmp))
        started = time.time()
        results = run(plan, tuple(args.only or SCENARIOS))
    document = {
        "meta": {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "commit": _commit(),
            "seconds": round(time.time() - started, 1),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cores": cores(),
            "pinning": "server core 0, load and sinks core 1" if cores() >= 2 else "none",
            "loadavg_at_end": os.getloadavg(),
            "plan": {k: v for k, v in vars(plan).items() if k != "workdir"},
        },
        "results": results,
        "ratios": ratios(results),
        "targets": targets(results),
    }
    out = args.json or Path("bench/results") / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(table(results))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
