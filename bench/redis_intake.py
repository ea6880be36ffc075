"""Scenario 8: the relay's intake over Redis (one replica) against bare Starlette.

Bare Starlette and the relay with ``RELAY_QUEUE_URL=redis://...`` are driven in alternating
rounds at the run's closed-loop connections, like the SQLite intake ceilings. Redis is a
private ``redis-server`` per round (``appendonly yes``, ``appendfsync everysec``, as
docs/redis.md asks), pinned with the load generator, so its ``INFO`` counts only this relay:

* ``commands_per_dial``: Redis commands run per stored dial (``INFO stats``
  ``total_commands_processed``, delta over the load: the scripts' own commands included);
  ``scripts_per_dial``: ``EVALSHA`` calls (``INFO commandstats``);
* ``round_trips_per_dial``: socket reads Redis served per stored dial
  (``total_reads_processed``): one per round trip, a pipeline read in one go counting once;
* ``redis_cpu_us_per_dial``: Redis's own CPU per stored dial.
"""

from __future__ import annotations

import shutil
from typing import Any

import redis

from bench.history import Store, _wait_port
from bench.procs import LOAD_CPU, Proc, free_port
from bench.scenarios import Bench, _per

__all__ = ["redis_intake"]


class _DurableRedis(Store):
    """A private redis-server with the AOF fsynced every second (the documented setting)."""

    def __init__(self, bench: Bench, name: str) -> None:
        workdir = bench._dir(name)
        self.backend = "redis"
        self.db = workdir / "unused.db"
        port = free_port()
        binary = shutil.which("redis-server") or "redis-server"
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(workdir)]
        self.server = Proc(f"redis-{port}", argv, cpu=LOAD_CPU, workdir=workdir)
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = workdir
        _wait_port(port)
        self.baseline = 0

    def counters(self) -> dict[str, int]:
        with redis.Redis.from_url(self.url) as client:
            stats = client.info("stats")
            scripts = client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
        return {
            "commands": int(stats["total_commands_processed"]),
            "reads": int(stats["total_reads_processed"]),
            "scripts": int(scripts),
        }


def _relay_round(bench: Bench, connections: int) -> dict[str, Any]:
    store = _DurableRedis(bench, "redis-intake")
    try:
        down = f"http://127.0.0.1:{free_port()}"
        db = store.workdir / "unused.db"
        proc, base = bench.start_relay(store.workdir, down, db, queue_url=store.url)
        try:
            before, cpu, server_cpu = store.counters(), proc.cpu_seconds(), store.cpu_seconds()
            got = bench.closed_load(base + "/hooks/bench", store.workdir, connections)
            cpu, server_cpu = proc.cpu_seconds() - cpu, store.cpu_seconds() - server_cpu
            after = store.counters()
        finally:
            proc.stop()
        stored = store.queued()
    finally:
        store.stop()
    accepted = got.count(202) if got.tool == "python" else got.statuses["2xx"]
    return {
        **got.as_dict(),
        "connections": connections,
        "accepted": accepted,
        "stored": stored,
        "durable": stored >= accepted,
        "cpu_us_per_request": _per(cpu, got.requests),
        "redis_cpu_us_per_dial": _per(server_cpu, stored),
        **{
            f"{name}_per_dial": round((after[key] - before[key]) / stored, 3) if stored else None
            for name, key in (
                ("commands", "commands"),
                ("scripts", "scripts"),
                ("round_trips", "reads"),
            )
        },
    }


def redis_intake(bench: Bench) -> dict[str, Any]:
    """Bare and relay-over-Redis intake, alternated, ``intake_rounds`` each; medians."""
    if shutil.which("redis-server") is None:
        return {"skipped": "redis-server is not installed"}
    connections = bench.plan.connections
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "relay": []}
    for i in range(bench.plan.intake_rounds):
        order = ("bare", "relay") if i % 2 == 0 else ("relay", "bare")
        for kind in order:
            got = (
                bench.bare_intake(connections=connections)
                if kind == "bare"
                else _relay_round(bench, connections)
            )
            runs[kind].append(got)
    median = {k: sorted(v, key=lambda r: r["rps"])[len(v) // 2] for k, v in runs.items()}
    bare, relay = median["bare"], median["relay"]
    return {
        "connections": connections,
        "bare": {**bare, "round_rps": [r["rps"] for r in runs["bare"]]},
        "relay": {**relay, "round_rps": [r["rps"] for r in runs["relay"]]},
        "durable": all(r["durable"] for r in runs["relay"]),
        "relay_to_bare": round(relay["rps"] / bare["rps"], 3) if bare["rps"] else None,
    }
