"""Scenario 6: what dial history costs, history on against off in the same run.

For each backend (SQLite; Redis when ``redis-server`` is installed, a private server per run
so that ``INFO memory`` counts this run alone), history off and on
(``RELAY_DIAL_HISTORY_SECONDS`` 0 and 604800), in alternating order over ``history_rounds``
rounds:

1. **intake**: the relay with outboundIQ down takes webhooks for ``duration`` s (closed loop,
   as scenario 2): webhooks/s and the relay's CPU µs per webhook;
2. **drain**: the relay started again, against the instant sink, delivers every queued dial:
   dials/s and CPU µs per dial (the Redis server's own CPU too);
3. **size**: what the store holds once every dial is delivered, per delivered dial: SQLite
   bytes in use (pages not free; and the file's size), Redis ``used_memory`` above the empty
   server's (the relay's Lua scripts flushed first: a fixed cost, not one per dial). What
   both modes keep (the dedupe markers) cancels out: the history's cost per dial is on
   minus off.

4. **the queue alone**: ``dials // 10`` dials stored, then leased and acknowledged in
   batches, straight through the queue's API in this process (no HTTP), history off and on
   alternated ``history_queue_rounds`` times: the median CPU µs per dial of this process
   (the SQLite writer thread included) and of the Redis server. Steadier than the rates
   above on a busy machine, and it is the history's own cost.

Each figure is the median of the rounds (every round is in the JSON).

Retries are capped at 1 s (``RELAY_RETRY_CAP_SECONDS``) in both modes, so the few dials the
closed circuit probed during intake do not stretch the drain.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import redis
import structlog

from bench.procs import LOAD_CPU, SERVER_CPU, Proc, cores, free_port
from bench.scenarios import Bench, _per, _wait_drained, wire_template
from relay.config.settings import Settings
from relay.queue import create_queue
from relay.queue.base import Attempt, NewDial
from relay.queue.sqlite import SqliteQueue

WEEK = str(7 * 86400)


class Store:
    """The queue one run uses: a fresh SQLite file, or a private redis-server."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.db = workdir / "queue.db"
        self.server: Proc | None = None
        if backend == "sqlite":
            self.url = f"sqlite:///{self.db}"
            asyncio.run(_create(self.db))  # the empty file: its pages are the baseline
        else:
            port = free_port()
            binary = shutil.which("redis-server") or "redis-server"
            argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            argv += ["--appendonly", "no", "--dir", str(workdir)]
            self.server = Proc(f"redis-{port}", argv, cpu=LOAD_CPU, workdir=workdir)
            self.url = f"redis://127.0.0.1:{port}/0"
            _wait_port(port)
        self.baseline = self.size()["bytes"]

    def size(self) -> dict[str, int]:
        """``bytes``: SQLite pages in use (WAL checkpointed) or Redis ``used_memory``."""
        if self.backend == "sqlite":
            conn = sqlite3.connect(self.db)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                pages, free, page = (
                    conn.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("page_count", "freelist_count", "page_size")
                )
            finally:
                conn.close()
            return {"bytes": (pages - free) * page, "file_bytes": self.db.stat().st_size}
        with redis.Redis.from_url(self.url) as client:
            client.script_flush()  # the relay's scripts: a fixed cost, not one per dial
            return {"bytes": int(client.info("memory")["used_memory"])}

    def queued(self) -> int:
        """Dials in the queue, due or not."""
        return asyncio.run(_queued(self.url))

    def wait_empty(self, timeout: float = 60.0) -> None:
        """Until every delivered dial's ack is stored."""
        deadline = time.monotonic() + timeout
        while self.queued() and time.monotonic() < deadline:
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        return self.server.cpu_seconds() if self.server is not None else 0.0

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


async def _create(db: Path) -> None:
    queue = SqliteQueue(db)
    await queue.open()
    await queue.close()


async def _queued(url: str) -> int:
    queue = create_queue(url)
    await queue.open()
    try:
        s = await queue.stats(now=time.time() + 10**9)
        return s.ready + s.delayed + s.leased
    finally:
        await queue.close()


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"redis-server did not listen on {port}")


def one_run(bench: Bench, backend: str, mode: str) -> dict[str, Any]:
    """Intake, then drain, then the store's size, with history ``mode`` (on/off)."""
    workdir = bench._dir(f"history-{backend}-{mode}")
    store = Store(backend, workdir)
    env = {
        "RELAY_DIAL_HISTORY_SECONDS": WEEK if mode == "on" else "0",
        "RELAY_RETRY_CAP_SECONDS": "1",
    }
    try:
        down = f"http://127.0.0.1:{free_port()}"
        proc, base = bench.start_relay(workdir, down, store.db, queue_url=store.url, **env)
        try:
            cpu, server_cpu = proc.cpu_seconds(), store.cpu_seconds()
            got = bench.closed_load(base + "/hooks/bench", workdir)
            cpu, server_cpu = proc.cpu_seconds() - cpu, store.cpu_seconds() - server_cpu
        finally:
            proc.stop()
        queued = store.queued()
        queued_size = store.size()
        sink = bench.sink(workdir)
        try:
            before = sink.count()
            proc, _base = bench.start_relay(
                workdir, sink.url, store.db, queue_url=store.url, wait=False, **env
            )
            spawned = time.monotonic()
            try:
                drain_server = store.cpu_seconds()
                seconds, first, drain_cpu = _wait_drained(
                    sink, before, queued, proc, timeout=max(120, queued / 200)
                )
                if seconds == 0:  # a tiny backlog went in one poll: count from the spawn
                    seconds, first = time.monotonic() - spawned, 0
                drain_server = store.cpu_seconds() - drain_server
                store.wait_empty()
            finally:
                proc.stop()
        finally:
            sink.stop()
        drained = store.size()
    finally:
        store.stop()
    measured = queued - first
    return {
        "intake_rps": got.rps,
        "intake_cpu_us": _per(cpu, got.requests),
        "intake_server_cpu_us": _per(server_cpu, got.requests) if store.server else None,
        "queued": queued,
        "queued_bytes_per_dial": round((queued_size["bytes"] - store.baseline) / queued)
        if queued
        else None,
        "drain_dials_per_s": round(measured / seconds, 1) if seconds else None,
        "drain_cpu_us": _per(drain_cpu, measured),
        "drain_server_cpu_us": _per(drain_server, queued) if store.server else None,
        "bytes_per_delivered_dial": round((drained["bytes"] - store.baseline) / queued)
        if queued
        else None,
        "file_bytes_per_delivered_dial": round(drained["file_bytes"] / queued)
        if queued and "file_bytes" in drained
        else None,
    }


def queue_run(bench: Bench, backend: str, mode: str, n: int) -> dict[str, Any]:
    """``n`` dials through the queue's own API, history ``mode``: CPU µs per dial."""
    # the relay's start-up warnings (this Redis has no AOF, on purpose) are not results
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    store = Store(backend, bench._dir(f"history-queue-{backend}-{mode}"))
    cpus = os.sched_getaffinity(0)
    if cores() >= 2:  # this process plays the relay here: on the server's core
        os.sched_setaffinity(0, {SERVER_CPU})
    try:
        return asyncio.run(_through_queue(store, n, history=mode == "on"))
    finally:
        os.sched_setaffinity(0, cpus)
        store.stop()


async def _through_queue(store: Store, n: int, *, history: bool) -> dict[str, Any]:
    settings = Settings(queue_url=store.url, dial_history_seconds=604800 if history else 0)
    queue = create_queue(store.url, settings)
    wire, now = wire_template(), time.time()
    await queue.open()
    try:
        cpu, server = time.process_time(), store.cpu_seconds()
        for start in range(0, n, 256):  # a busy intake's turn: many webhooks at once
            await asyncio.gather(
                *(
                    queue.enqueue(NewDial("bench", f"q-{i}", wire % (b"q-%d" % i), now), 86400)
                    for i in range(start, min(n, start + 256))
                )
            )
        stored, stored_server = time.process_time() - cpu, store.cpu_seconds() - server
        cpu, server = time.process_time(), store.cpu_seconds()
        while leased := await queue.lease(64, 60, now=now):
            answers = {d.id: Attempt(time.time(), d.attempts, 200, "", 0.01) for d in leased}
            await queue.ack([d.id for d in leased], attempts=answers)
        drained, drained_server = time.process_time() - cpu, store.cpu_seconds() - server
    finally:
        await queue.close()
    return {
        "dials": n,
        "enqueue_cpu_us": _per(stored, n),
        "enqueue_server_cpu_us": _per(stored_server, n) if store.server else None,
        "drain_cpu_us": _per(drained, n),
        "drain_server_cpu_us": _per(drained_server, n) if store.server else None,
    }


def _median(values: list[Any]) -> float | None:
    numbers = sorted(v for v in values if isinstance(v, int | float))
    return round(statistics.median(numbers), 1) if numbers else None


def _medians(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float | None]]:
    return {mode: {k: _median([r[k] for r in rs]) for k in rs[0]} for mode, rs in runs.items()}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def history_cost(bench: Bench) -> dict[str, Any]:
    """Every backend available, history off and on, ``history_rounds`` rounds alternated."""
    out: dict[str, Any] = {}
    for backend in ("sqlite", "redis"):
        if backend == "redis" and shutil.which("redis-server") is None:
            out[backend] = {"skipped": "redis-server is not installed"}
            continue
        runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for i in range(bench.plan.history_rounds):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                runs[mode].append(one_run(bench, backend, mode))
        alone: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        n = max(200, bench.plan.dials // 10)
        for i in range(bench.plan.history_queue_rounds):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):
                alone[mode].append(queue_run(bench, backend, mode, n))
        median, queue_median = _medians(runs), _medians(alone)
        on, off = median["on"], median["off"]
        history_bytes = None
        if on["bytes_per_delivered_dial"] is not None and off["bytes_per_delivered_dial"]:
            history_bytes = round(on["bytes_per_delivered_dial"] - off["bytes_per_delivered_dial"])
        out[backend] = {
            "off": off,
            "on": on,
            "rounds": runs,
            "history_bytes_per_delivered_dial": history_bytes,
            "intake_on_to_off": _ratio(on["intake_rps"], off["intake_rps"]),
            "drain_on_to_off": _ratio(on["drain_dials_per_s"], off["drain_dials_per_s"]),
            "intake_cpu_on_to_off": _ratio(on["intake_cpu_us"], off["intake_cpu_us"]),
            "drain_cpu_on_to_off": _ratio(on["drain_cpu_us"], off["drain_cpu_us"]),
            "queue_alone": {
                **queue_median,
                "rounds": alone,
                "enqueue_cpu_on_to_off": _ratio(
                    queue_median["on"]["enqueue_cpu_us"], queue_median["off"]["enqueue_cpu_us"]
                ),
                "drain_cpu_on_to_off": _ratio(
                    queue_median["on"]["drain_cpu_us"], queue_median["off"]["drain_cpu_us"]
                ),
            },
        }
    return out
