"""The scenarios: each starts its processes pinned (server core 0, load and sinks core 1)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import HOOK_TOKEN, LoadResult, body, python_load, wrk_load
from bench.procs import (
    LOAD_CPU,
    SERVER_CPU,
    Proc,
    Sink,
    child_env,
    free_port,
    pin,
    python,
    start_sink,
    wait_http,
)
from bench.report import dig
from relay.queue.sqlite import SqliteQueue

API_KEY = "bench-outboundiq-key"
SOURCES_YAML = f"""
sources:
  bench:
    mapping: generic
    auth: {{type: header, header: X-Relay-Token, secret: {HOOK_TOKEN}}}
    timezone: America/Chicago
"""


def wire_template() -> bytes:
    """The exact payload the relay stores for a benchmark webhook, ``%s`` for its dial id."""
    from pydantic import SecretStr

    from bench.load import body
    from relay.core.pipeline import map_request, parse_request
    from relay.core.sources import parse_sources

    source = parse_sources(SOURCES_YAML, env={}, default_api_key=SecretStr(API_KEY))["bench"]
    request = parse_request("POST", "application/json", {}, body("@DIAL_ID@", 0))
    return map_request(source, request).dial.to_wire().replace(b"@DIAL_ID@", b"%s")


@dataclass
class Plan:
    """How big the run is (``--quick`` shrinks everything for the smoke test)."""

    workdir: Path
    duration: float = 10.0
    connections: int = 32
    rate: float = 1000.0
    latency_rounds: int = 5
    intake_rounds: int = 3  # bare and relay intake, alternated; each reports its median round
    # Closed-loop connection counts for the intake ceilings: each system's ceiling is its best
    # median over these (the relay needs more requests in flight to cover its fsyncs).
    intake_connections: tuple[int, ...] = (32, 64, 128)
    latency_seconds: float = 5.0
    dials: int = 100_000
    backlog: int = 1_000_000
    backlog_seconds: float = 15.0
    forward_concurrency: int = 64
    history_rounds: int = 2  # dial history off and on, per backend, in alternating order
    history_queue_rounds: int = 6  # the same through the queue alone (no HTTP): steadier
    console_rounds: int = 3  # intake with the console open and closed, alternated
    drain_rounds: int = 3  # each fill drained this many times (copies), raw aiohttp before each
    transports: tuple[str, ...] = ("relay", "httpx-default", "aiohttp")
    load: str = "wrk"  # or "python"
    sink: str = "nginx"  # or "python"


class Bench:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._runs = 0

    # --- helpers ---------------------------------------------------------------------
    def _dir(self, name: str) -> Path:
        self._runs += 1
        path = self.plan.workdir / f"{self._runs:02d}-{name}"
        path.mkdir(parents=True)
        return path

    def closed_load(self, url: str, workdir: Path, connections: int | None = None) -> LoadResult:
        prefix = uuid.uuid4().hex[:8]
        c = connections or self.plan.connections
        if self.plan.load == "wrk":
            return wrk_load(
                url, duration=self.plan.duration, connections=c, prefix=prefix, workdir=workdir
            )
        return python_load(url, duration=self.plan.duration, connections=c, prefix=prefix)

    def open_load(self, url: str) -> LoadResult:
        return python_load(
            url,
            duration=self.plan.latency_seconds,
            rate=self.plan.rate,
            prefix=uuid.uuid4().hex[:8],
        )

    def start_app(self, kind: str, workdir: Path, **extra: str) -> tuple[Proc, str]:
        port = free_port()
        argv = python("-m", "bench.apps", kind, "--port", str(port))
        for key, value in extra.items():
            argv += [f"--{key}", value]
        proc = Proc(kind, argv, cpu=SERVER_CPU, workdir=workdir, env=child_env())
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz", proc=proc.proc)
        return proc, base

    def start_relay(
        self,
        workdir: Path,
        destination: str,
        db: Path,
        *,
        wait: bool = True,
        queue_url: str | None = None,
        **settings: str,
    ) -> tuple[Proc, str]:
        """``python -m relay serve`` on core 0: on the SQLite file ``db`` unless ``queue_url``
        names another queue; ``settings`` are more ``RELAY_*`` variables."""
        port = free_port()
        sources = workdir / "sources.yaml"
        sources.write_text(SOURCES_YAML)
        env = child_env(
            RELAY_HOST="127.0.0.1",
            RELAY_PORT=str(port),
            RELAY_SOURCES_FILE=str(sources),
            RELAY_QUEUE_URL=queue_url or f"sqlite:///{db}",
            RELAY_OUTBOUNDIQ_URL=destination,
            RELAY_OUTBOUNDIQ_API_KEY=API_KEY,
            RELAY_FORWARD_CONCURRENCY=str(self.plan.forward_concurrency),
            RELAY_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            RELAY_SHUTDOWN_GRACE_SECONDS="2",
            RELAY_MAX_CONNECTIONS_PER_CLIENT="0",  # the load generator is one client
            **settings,
        )
        proc = Proc(
            "relay", python("-m", "relay", "serve"), cpu=SERVER_CPU, workdir=workdir, env=env
        )
        base = f"http://127.0.0.1:{port}"
        if wait:
            wait_http(base + "/healthz", proc=proc.proc)
        return proc, base

    def sink(self, workdir: Path, delay: float = 0.0) -> Sink:
        return start_sink(self.plan.sink if delay == 0 else "python", workdir, delay=delay)

    # --- 0. the load generator's own ceiling -----------------------------------------------
    def generator_ceiling(self) -> dict[str, Any]:
        workdir = self._dir("generator")
        sink = self.sink(workdir)
        try:
            got = python_load(
                sink.url + "/dials",
                duration=min(self.plan.duration, 5),
                connections=self.plan.connections,
                prefix="gen",
            )
        finally:
            sink.stop()
        return {"sink": sink.kind, **got.as_dict()}

    # --- the disk's own fsync latency: no durable 202 can be faster -------------------------
    def disk_fsync(self) -> dict[str, Any]:
        path = self._dir("disk") / "fsync.probe"
        samples: list[float] = []
        block = b"x" * 4096
        with path.open("wb") as f:
            deadline = time.monotonic() + max(0.5, min(self.plan.duration / 2, 3))
            while time.monotonic() < deadline:
                started = time.perf_counter()
                f.write(block)
                f.flush()
                os.fsync(f.fileno())
                samples.append((time.perf_counter() - started) * 1000)
        samples.sort()
        return {
            "fsyncs": len(samples),
            "p50_ms": round(samples[len(samples) // 2], 3),
            "p99_ms": round(samples[int(len(samples) * 0.99)], 3),
            "max_ms": round(samples[-1], 3),
        }

    # --- 1. the stack's ceiling ----------------------------------------------------------
    def bare_intake(self, connections: int | None = None) -> dict[str, Any]:
        return self._app_intake("bare", connections)

    # --- 1b. the floor of a durable intake on this stack ---------------------------------
    def durable_intake(self, connections: int | None = None) -> dict[str, Any]:
        """Bare Starlette storing each raw body through the relay's group-commit writer
        before its 202 (``bench.apps`` ``durable``): what durability alone costs."""
        return self._app_intake("durable", connections)

    def _app_intake(self, kind: str, connections: int | None) -> dict[str, Any]:
        """A ``bench.apps`` baseline under the closed loop; the durable one also says whether
        it stored a row for every 202 (``durable``)."""
        workdir = self._dir(kind)
        db = workdir / "durable.db"
        proc, base = self.start_app(kind, workdir, **({"db": str(db)} if kind == "durable" else {}))
        try:
            frozen = _get_json(base + "/healthz").get("gc_frozen")
            cpu, threads = proc.cpu_seconds(), proc.thread_cpu_seconds()
            got = self.closed_load(base + "/hooks/bench", workdir, connections)
            cpu, threads = proc.cpu_seconds() - cpu, _minus(proc.thread_cpu_seconds(), threads)
        finally:
            proc.stop()
        out = {
            **got.as_dict(),
            "connections": connections or self.plan.connections,
            "cpu_us_per_request": _per(cpu, got.requests),
            "cpu_us_per_request_by_thread": _per_thread(threads, got.requests),
            "gc_frozen_objects": frozen,  # the relay's collector policy (bench.apps)
        }
        if kind == "durable":
            accepted = got.count(202) if got.tool == "python" else got.statuses["2xx"]
            stored = _count(db, "SELECT COUNT(*) FROM hooks")
            out.update(accepted=accepted, durable=stored >= accepted)
        return out

    # --- 2. the relay's intake, every 202 durable -----------------------------------------
    def relay_intake(
        self, *, forwarding: bool = False, connections: int | None = None
    ) -> dict[str, Any]:
        """Intake alone (outboundIQ down: the circuit opens and the forwarder waits), or
        intake while the forwarder delivers every dial to the instant sink on the same core."""
        workdir = self._dir("relay-intake-forwarding" if forwarding else "relay-intake")
        db = workdir / "queue.db"
        sink = self.sink(workdir)
        destination = sink.url if forwarding else f"http://127.0.0.1:{free_port()}"
        proc, base = self.start_relay(workdir, destination, db)
        try:
            cpu, threads = proc.cpu_seconds(), proc.thread_cpu_seconds()
            got = self.closed_load(base + "/hooks/bench", workdir, connections)
            cpu, threads = proc.cpu_seconds() - cpu, _minus(proc.thread_cpu_seconds(), threads)
            peak = proc.peak_rss_mb()
            forwarded = sink.count()
        finally:
            proc.stop()
            sink.stop()
        stored = _count(db, "SELECT COUNT(*) FROM seen")
        accepted = got.count(202) if got.tool == "python" else got.statuses["2xx"]
        return {
            **got.as_dict(),
            "destination": "instant sink" if forwarding else "down (forwarder waiting)",
            "connections": connections or self.plan.connections,
            "accepted": accepted,
            "stored": stored,
            "durable": stored >= accepted and _synchronous(db) == "FULL",
            "synchronous": "FULL (WAL; each group commit is fsynced before any 202)",
            "peak_rss_mb": round(peak, 1),
            "forwarded_meanwhile": forwarded,
            "cpu_us_per_request": _per(cpu, got.requests),
            "cpu_us_per_request_by_thread": _per_thread(threads, got.requests),
        }

    def intake_rounds(self) -> dict[str, dict[str, Any]]:
        """Bare, durable-floor and relay intake at each of ``intake_connections``, in
        alternating rounds (bare, durable, relay, then relay, durable, bare, ...) so that
        whatever else the machine does spreads over them alike. Per system and connection
        count: the median round by req/s. Each system's ceiling is its best median over the
        connection counts; every count's median is kept under ``by_connections``."""
        kinds = ("bare", "durable", "relay")
        measures = {
            "bare": self.bare_intake,
            "durable": self.durable_intake,
            "relay": self.relay_intake,
        }
        runs: dict[str, dict[int, list[dict[str, Any]]]] = {k: {} for k in kinds}
        for i in range(self.plan.intake_rounds):
            for connections in self.plan.intake_connections:
                for kind in kinds if i % 2 == 0 else kinds[::-1]:
                    got = measures[kind](connections=connections)
                    runs[kind].setdefault(connections, []).append(got)
        out: dict[str, dict[str, Any]] = {}
        for kind in kinds:
            medians = {
                c: {
                    **sorted(rounds, key=lambda r: r["rps"])[len(rounds) // 2],
                    "round_rps": [r["rps"] for r in rounds],
                }
                for c, rounds in runs[kind].items()
            }
            best = max(medians.values(), key=lambda r: r["rps"])
            out[kind] = {
                **best,
                "by_connections": {
                    str(c): {k: m[k] for k in _SWEEP_KEYS if k in m} for c, m in medians.items()
                },
            }
        for kind in ("durable", "relay"):
            out[kind]["durable"] = all(r["durable"] for rs in runs[kind].values() for r in rs)
        return out

    # --- p99 at a fixed rate, with the destination fast, slow and down --------------------
    def latency_at_rate(self) -> dict[str, Any]:
        """Rounds interleaved (fast, slow, down, fast, ...) so that whatever else the machine
        is doing spreads over the three alike; each condition reports its median round. Fast
        and slow use the same Python sink, so the 100 ms is the only difference."""
        conditions = (("fast", 0.0), ("slow", 0.1), ("down", None))
        rounds: dict[str, list[LoadResult]] = {name: [] for name, _ in conditions}
        cpu_us: dict[str, list[float | None]] = {name: [] for name, _ in conditions}
        for i in range(self.plan.latency_rounds):
            for name, delay in conditions:
                workdir = self._dir(f"latency-{name}-{i}")
                sink = start_sink("python", workdir, delay=delay) if delay is not None else None
                destination = sink.url if sink else f"http://127.0.0.1:{free_port()}"
                proc, base = self.start_relay(workdir, destination, workdir / "queue.db")
                try:
                    cpu = proc.cpu_seconds()
                    got = self.open_load(base + "/hooks/bench")
                    rounds[name].append(got)
                    cpu_us[name].append(_per(proc.cpu_seconds() - cpu, got.requests))
                finally:
                    proc.stop()
                    if sink:
                        sink.stop()
        out: dict[str, Any] = {}
        for name, delay in conditions:
            runs = sorted(rounds[name], key=lambda r: r.p99_ms)
            median = runs[len(runs) // 2]
            out[name] = {
                "destination": _describe(delay),
                **median.as_dict(),
                "round_p99_ms": [r.p99_ms for r in rounds[name]],
                "round_p50_ms": [r.p50_ms for r in rounds[name]],
                # the relay's CPU per webhook in each round (the forwarder's share included)
                "round_cpu_us_per_webhook": cpu_us[name],
                "cpu_us_per_webhook": _median_of(cpu_us[name]),
            }
        return out

    # --- 3. draining a backlog ---------------------------------------------------------------
    def client_ceiling(self, sink: Sink) -> dict[str, Any]:
        """The forwarder's own client and the others, POSTing as fast as they can: no queue."""
        return {transport: self._raw_client(sink, transport) for transport in self.plan.transports}

    def _raw_client(self, sink: Sink, transport: str) -> dict[str, Any]:
        """``bench/client.py``: one client POSTing as fast as it can, on the relay's core."""
        seconds = min(self.plan.duration, 5)
        argv = python("-m", "bench.client", sink.url, "--transport", transport)
        argv += ["--concurrency", str(self.plan.forward_concurrency), "--seconds", str(seconds)]
        return _run_json(argv, cpu=SERVER_CPU)

    def forward_drain(self) -> dict[str, Any]:
        """The drain of a backlog written straight into the queue file (the main figures),
        then of one queued by ``relay backfill`` (``from_backfill``) and of one queued by
        webhooks through the relay's intake, dial history and all (``from_intake``). The raw
        client ceilings are measured first, against the same sink; each fill is drained
        ``drain_rounds`` times (a copy of it each time), raw aiohttp just before each."""
        workdir = self._dir("drain")
        sink = self.sink(workdir)
        try:
            ceiling = self.client_ceiling(sink)
            db = workdir / "queue.db"
            queue_bytes = prequeue(db, self.plan.dials)
            out = self._drain(workdir, db, sink, self.plan.dials, ceiling)
            out["queue_bytes_per_100k"] = round(queue_bytes / self.plan.dials * 100_000)
            out["from_backfill"] = self._drain_backfill(sink, ceiling)
            out["from_intake"] = self._drain_intake(sink, ceiling)
        finally:
            sink.stop()
        relay_rps = dig(ceiling, "relay", "rps")
        for one in (out, out["from_backfill"], out["from_intake"]):
            one["ratio_to_client_ceiling"] = _ratio(one["dials_per_s"], relay_rps)
        return {**out, "client_ceiling": ceiling, "sink": sink.kind}

    def _drain(
        self, workdir: Path, db: Path, sink: Sink, n: int, ceiling: dict[str, Any]
    ) -> dict[str, Any]:
        """Drain the queue file ``db`` (``n`` due dials) ``drain_rounds`` times, each time a
        fresh copy of it, raw aiohttp measured against the sink just before each round: on a
        shared machine, rates a minute apart can differ more than the systems do, so each
        round's ratio is of two adjacent measurements, and the result is the median round's
        (by its ratio; every round is kept in ``rounds``)."""
        rounds = []
        for i in range(self.plan.drain_rounds):
            copy = workdir / f"round-{i}" / db.name
            copy.parent.mkdir()
            for part in db.parent.glob(db.name + "*"):  # the file, and its WAL if any
                shutil.copyfile(part, copy.parent / part.name)
            one = self._drain_once(copy.parent, copy, sink, n)
            # raw aiohttp just before (else with the ceilings): its rate, and its CPU per
            # POST ÷ the relay's CPU per dial, steadier than rates
            raw = one["aiohttp_just_before"] or ceiling.get("aiohttp") or {}
            one["ratio_to_aiohttp"] = _ratio(one["dials_per_s"], raw.get("rps"))
            one["cpu_efficiency_to_aiohttp"] = _ratio(
                raw.get("cpu_us_per_request"), one["cpu_us_per_dial"]
            )
            rounds.append(one)
            for part in copy.parent.glob(copy.name + "*"):  # the drained copy: not needed
                part.unlink()
        # by the ratio when every round has one (raw aiohttp measured), else by dials/s
        key = "ratio_to_aiohttp" if all(r["ratio_to_aiohttp"] for r in rounds) else "dials_per_s"
        median = sorted(rounds, key=lambda r: r[key])[len(rounds) // 2]  # as _median_of
        return {
            **median,
            "rounds": [_round(r) for r in rounds],
            "cpu_efficiency_to_aiohttp": _median_of(
                [r["cpu_efficiency_to_aiohttp"] for r in rounds]
            ),
        }

    def _drain_once(self, workdir: Path, db: Path, sink: Sink, n: int) -> dict[str, Any]:
        """Start the relay on the queue file ``db`` holding ``n`` due dials; dials/s from the
        first delivery seen to the last. Raw aiohttp is measured against the sink just
        before (when the plan measures it), for a ratio of two adjacent measurements."""
        adjacent = self._raw_client(sink, "aiohttp") if "aiohttp" in self.plan.transports else None
        before = sink.count()
        spawned = time.monotonic()
        proc, _base = self.start_relay(workdir, sink.url, db, wait=False)
        try:
            seconds, first, cpu = _wait_drained(sink, before, n, proc, timeout=max(120, n / 200))
            if seconds == 0:  # a tiny backlog went in one poll: count from the spawn
                seconds, first = time.monotonic() - spawned, 0
            peak = proc.peak_rss_mb()
        finally:
            proc.stop()
        delivered = n - first
        return {
            "dials": n,
            "measured_dials": delivered,
            "seconds": round(seconds, 3),
            "dials_per_s": round(delivered / seconds if seconds else 0.0, 1),
            "peak_rss_mb": round(peak, 1),
            "cpu_us_per_dial": _per(cpu, delivered),
            "aiohttp_just_before": adjacent,
        }

    def _drain_backfill(self, sink: Sink, ceiling: dict[str, Any]) -> dict[str, Any]:
        """``relay backfill`` queues the dials (a JSON Lines export of the benchmark's
        webhooks, through the source's mapping, on the backfill lane), then the drain."""
        workdir = self._dir("drain-backfill")
        db = workdir / "queue.db"
        sources = workdir / "sources.yaml"
        sources.write_text(SOURCES_YAML)
        export = workdir / "export.jsonl"
        with export.open("wb") as out:
            for i in range(self.plan.dials):
                out.write(body(f"b-{i}", i) + b"\n")
        argv = python("-m", "relay", "backfill", "bench", str(export), "--json")
        argv += ["--queue-url", f"sqlite:///{db}", "--sources-file", str(sources)]
        env = child_env(RELAY_OUTBOUNDIQ_API_KEY=API_KEY)
        subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **env})
        queued = _count(db, "SELECT COUNT(*) FROM dials")
        drained = self._drain(workdir, db, sink, queued, ceiling)
        return {**drained, "filled_by": "relay backfill"}

    def _drain_intake(self, sink: Sink, ceiling: dict[str, Any]) -> dict[str, Any]:
        """Webhooks through the relay's intake for ``duration`` s while outboundIQ is down
        (the forwarder's first attempts fail and its circuit opens), then the relay again
        against the sink: the drain of the dials never attempted (those the first attempts
        delayed come due later and are not waited for)."""
        workdir = self._dir("drain-intake")
        db = workdir / "queue.db"
        proc, base = self.start_relay(workdir, f"http://127.0.0.1:{free_port()}", db)
        try:
            self.closed_load(base + "/hooks/bench", workdir)
        finally:
            proc.stop()
        fresh = _count(db, "SELECT COUNT(*) FROM dials WHERE attempts = 0")
        drained = self._drain(workdir, db, sink, fresh, ceiling)
        return {**drained, "filled_by": "webhooks (relay intake)"}

    # --- 4. a hand-written relay against a slow outboundIQ -----------------------------------
    def naive_vs_relay(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("naive", "relay"):
            workdir = self._dir(f"slow-{name}")
            sink = self.sink(workdir, delay=0.1)
            if name == "naive":
                proc, base = self.start_app("naive", workdir, destination=sink.url)
            else:
                proc, base = self.start_relay(workdir, sink.url, workdir / "queue.db")
            try:
                got = self.closed_load(base + "/hooks/bench", workdir)
            finally:
                proc.stop()
                sink.stop()
            out[name] = got.as_dict()
        return out

    # --- 5. memory with a large backlog ------------------------------------------------------
    def backlog_rss(self) -> dict[str, Any]:
        workdir = self._dir("backlog")
        db = workdir / "queue.db"
        n = self.plan.backlog
        queue_bytes = prequeue(db, n)
        sink = self.sink(workdir)
        try:
            before = sink.count()
            proc, _base = self.start_relay(workdir, sink.url, db)
            try:
                started = time.monotonic()
                peak_seen = 0.0
                while time.monotonic() - started < self.plan.backlog_seconds:
                    peak_seen = max(peak_seen, proc.rss_mb())
                    time.sleep(0.2)
                delivered = sink.count() - before
                peak = max(peak_seen, proc.peak_rss_mb())
            finally:
                proc.stop()
        finally:
            sink.stop()
        return {
            "backlog": n,
            "seconds": self.plan.backlog_seconds,
            "delivered_meanwhile": delivered,
            "peak_rss_mb": round(peak, 1),
            "queue_file_mb": round(queue_bytes / 2**20, 1),
        }


def _describe(delay: float | None) -> str:
    if delay is None:
        return "down (connection refused)"
    return f"python sink, +{int(delay * 1000)} ms" if delay else "python sink, instant"


def prequeue(db: Path, n: int) -> int:
    """Put ``n`` due dials in a fresh queue file; its size in bytes (WAL checkpointed)."""
    queue = SqliteQueue(db)

    async def create() -> None:
        await queue.open()
        await queue.close()

    asyncio.run(create())
    wire = wire_template()
    now = time.time()
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO dials (source, dial_id, payload, lane, received_at, due_at, kind) "
            "VALUES ('bench', ?, ?, 0, ?, ?, 'dial')",
            ((f"q-{i}", wire % f"q-{i}".encode(), now, now) for i in range(n)),
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def _wait_drained(
    sink: Sink, before: int, n: int, proc: Proc, timeout: float
) -> tuple[float, int, float]:
    """Seconds from the first delivery seen to the ``n``-th, how many that first poll saw,
    and the relay's CPU seconds in between."""
    deadline = time.monotonic() + timeout
    first_at: float | None = None
    first = 0
    cpu = 0.0
    while time.monotonic() < deadline:
        got = sink.count() - before
        now = time.monotonic()
        if first_at is None and got > 0:
            first_at, first, cpu = now, got, proc.cpu_seconds()
        if got >= n:
            return now - (first_at or now), first, proc.cpu_seconds() - cpu
        time.sleep(0.05)
    raise TimeoutError(f"drain did not finish in {timeout:.0f} s")


#: What a drain's ``rounds`` keep of each round (with raw aiohttp's rate just before it).
_ROUND_KEYS = (
    "dials_per_s",
    "cpu_us_per_dial",
    "ratio_to_aiohttp",
    "cpu_efficiency_to_aiohttp",
)

#: What ``by_connections`` keeps of each median run.
_SWEEP_KEYS = (
    "rps",
    "p50_ms",
    "p99_ms",
    "cpu_us_per_request",
    "cpu_us_per_request_by_thread",
    "round_rps",
    "errors",
)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _per(cpu_seconds: float, count: int) -> float | None:
    """CPU microseconds per request: steadier than throughput on a shared machine."""
    return round(cpu_seconds / count * 1e6, 1) if count else None


def _round(one: dict[str, Any]) -> dict[str, Any]:
    """What a drain's ``rounds`` keep of one round."""
    kept = {key: one[key] for key in _ROUND_KEYS}
    return {**kept, "aiohttp_rps": dig(one, "aiohttp_just_before", "rps")}


def _median_of(values: list[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None)
    return known[len(known) // 2] if known else None


def _get_json(url: str) -> dict[str, Any]:
    answer = httpx.get(url, timeout=5)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _synchronous(db: Path) -> str:
    """The relay opens the queue with ``synchronous=FULL``; confirm the code still says so."""
    return SqliteQueue(db).synchronous


def _run_json(argv: list[str], cpu: int = LOAD_CPU) -> dict[str, Any]:
    out = subprocess.run(
        argv,
        capture_output=True,
        check=True,
        timeout=300,
        env={**os.environ, **child_env()},
        **pin(cpu),  # type: ignore[arg-type]
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _minus(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: seconds - before.get(name, 0.0) for name, seconds in after.items()}


def _per_thread(seconds: dict[str, float], requests: int) -> dict[str, float | None]:
    """CPU µs per request of each thread that used any."""
    return {name: _per(cpu, requests) for name, cpu in sorted(seconds.items()) if cpu > 0}
