"""Scenario 9: the drain over Redis, one replica and three, against raw aiohttp.

A private ``redis-server`` (``appendonly yes``, ``appendfsync everysec``, as docs/redis.md
asks; pinned with the sink) is filled with the plan's ``dials`` due dials through the relay's own
queue (``RedisStreamQueue.enqueue_many``: the stored form a webhook leaves), then one relay,
or three sharing the stream (each its own consumer, ``RELAY_REDIS_CONSUMER``), forward them
to the sink. Every replica is pinned to the relay's core, so three replicas have the CPU one
has: their rate against one replica's is what sharing the stream costs or gains (more dials
in flight per core), not more hardware. Raw aiohttp POSTs the same body to the same sink just
before each drain.

Reported per drain: dials/s from the first delivery seen to the last, the replicas' CPU and
Redis's CPU per dial, Redis commands, script calls and round trips (socket reads) per dial,
and the ratio to raw aiohttp (dials/s, and CPU: aiohttp's per POST ÷ the relay's per dial).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

from bench.procs import Proc, Sink
from bench.redis_intake import _DurableRedis
from bench.scenarios import Bench, _per, _ratio, wire_template
from relay.queue.models import NewDial
from relay.queue.redis import RedisStreamQueue

__all__ = ["REPLICAS", "redis_drain"]

REPLICAS = (1, 3)
_FILL_BATCH = 1000  # dials per enqueue_many while filling


async def _fill(url: str, n: int) -> None:
    queue = RedisStreamQueue(url, consumer="bench-fill", block_seconds=0)
    await queue.open()
    try:
        wire, now = wire_template(), time.time()
        for start in range(0, n, _FILL_BATCH):
            batch = [
                NewDial("bench", f"q-{i}", wire % f"q-{i}".encode(), received_at=now)
                for i in range(start, min(n, start + _FILL_BATCH))
            ]
            stored = await queue.enqueue_many(batch, 3600)
            assert all(stored), "a pre-queued dial was taken for a duplicate"
    finally:
        await queue.close()


def _drain(bench: Bench, sink: Sink, replicas: int) -> dict[str, Any]:
    n = bench.plan.dials
    store = _DurableRedis(bench, f"redis-drain-{replicas}")
    procs: list[Proc] = []
    try:
        asyncio.run(_fill(store.url, n))
        measure_raw = "aiohttp" in bench.plan.transports  # not in the smoke test
        adjacent = bench._raw_client(sink, "aiohttp") if measure_raw else {}
        before_sink, before = sink.count(), store.counters()
        for i in range(replicas):
            proc, _base = bench.start_relay(
                store.workdir,
                sink.url,
                store.workdir / "unused.db",
                wait=False,
                queue_url=store.url,
                RELAY_REDIS_CONSUMER=f"replica-{i}",
            )
            procs.append(proc)
        seconds, first, cpu, server_cpu = _wait(sink, before_sink, n, procs, store)
        store.wait_empty(timeout=30)  # the last acks: every dial's whole cost is counted
        after, left = store.counters(), store.queued()
    finally:
        for proc in procs:
            proc.stop()
        store.stop()
    delivered = n - first
    relay_cpu = _per(cpu, delivered)
    raw_cpu = adjacent.get("cpu_us_per_request")
    rate = round(delivered / seconds, 1) if seconds else None
    return {
        "replicas": replicas,
        "dials": n,
        "measured_dials": delivered,
        "seconds": round(seconds, 3),
        "dials_per_s": rate,
        "dials_per_s_per_replica": round(rate / replicas, 1) if rate else None,
        "left_in_queue": left,
        "cpu_us_per_dial": relay_cpu,
        "redis_cpu_us_per_dial": _per(server_cpu, delivered),
        **{
            f"{name}_per_dial": round((after[key] - before[key]) / n, 3)
            for name, key in (
                ("commands", "commands"),
                ("scripts", "scripts"),
                ("round_trips", "reads"),
            )
        },
        "aiohttp_just_before": adjacent or None,
        "to_aiohttp": _ratio(rate, adjacent.get("rps")),
        "cpu_efficiency_to_aiohttp": _ratio(raw_cpu, relay_cpu),
    }


def _wait(
    sink: Sink, before: int, n: int, procs: list[Proc], store: _DurableRedis
) -> tuple[float, int, float, float]:
    """Seconds from the first delivery seen to the ``n``-th, how many that first poll saw,
    and the replicas' and Redis's CPU seconds in between."""
    deadline = time.monotonic() + max(120.0, n / 200)
    first_at: float | None = None
    first, cpu, server = 0, 0.0, 0.0
    while time.monotonic() < deadline:
        got = sink.count() - before
        now = time.monotonic()
        if first_at is None and got > 0:
            first_at, first = now, got
            cpu, server = sum(p.cpu_seconds() for p in procs), store.cpu_seconds()
        if got >= n:
            return (
                now - (first_at or now),
                first,
                sum(p.cpu_seconds() for p in procs) - cpu,
                store.cpu_seconds() - server,
            )
        time.sleep(0.05)
    raise TimeoutError(f"the Redis drain did not finish in {deadline:.0f} s")


def redis_drain(bench: Bench) -> dict[str, Any]:
    """One replica, then three, each draining its own filled Redis into one sink."""
    if shutil.which("redis-server") is None:
        return {"skipped": "redis-server is not installed"}
    workdir = bench._dir("redis-drain-sink")
    sink = bench.sink(workdir)
    try:
        runs = {str(k): _drain(bench, sink, k) for k in REPLICAS}
    finally:
        sink.stop()
    one, three = runs["1"].get("dials_per_s"), runs["3"].get("dials_per_s")
    return {**runs, "three_to_one": _ratio(three, one)}
