"""Load from a separate process: wrk (with a Lua script for unique POST bodies) or Python.

The Python generator speaks raw HTTP/1.1 over keep-alive connections on uvloop. It runs
closed-loop (``connections`` requests in flight, as fast as answered) or open-loop (a fixed
``rate``; each latency counts from the request's *scheduled* time, so a stalled server is
not hidden by the generator waiting for it); its garbage collector is off while it runs, so
that its own pauses are not counted as the server's. Its own ceiling is measured in every run
against the instant sink, to show it is not the bottleneck.

``python -m bench.load URL --duration S [--connections C] [--rate R] --prefix P`` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.procs import LOAD_CPU, child_env, pin, python

HOOK_TOKEN = "bench-hook-token"
BODY_TEMPLATE = (
    '{"campaign_id":"abc-123","campaign_name":"Q2 Outbound Push","agent_name":"Jane Doe",'
    '"ani":"+1 (512) 555-0100","disposition_name":"Sale","prospect_phone":"%s",'
    '"datetime":"2026-04-10T14:32:15Z","call_direction":"predictive","zip":"78701-1234",'
    '"sys_created_date_original":"2026-04-01","total_dial_attempts":"3",'
    '"skill_name":"Sales Tier 1","lead_source":"facebook-ads","dial_id":"%s"}'
)


def body(dial_id: str, n: int) -> bytes:
    """A webhook body: a unique dial id and a different prospect for every request."""
    return (BODY_TEMPLATE % (prospect(n), dial_id)).encode()


def prospect(n: int) -> str:
    return f"512-{n // 10000 % 800 + 200:03d}-{n % 10000:04d}"


@dataclass
class LoadResult:
    """What one load run saw. Latencies in milliseconds."""

    tool: str
    mode: str  # "closed" (max throughput) or "open" (fixed rate)
    seconds: float
    requests: int
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0  # socket errors and timeouts
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def count(self, status: int) -> int:
        return self.statuses.get(str(status), 0)


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


# --- the Python generator (runs in its own process) ---------------------------------------
class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return int(head[9:12])


async def _generate(
    url: str, *, duration: float, connections: int, rate: float | None, prefix: str
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nX-Relay-Token: {HOOK_TOKEN}\r\n"
    ).encode()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    sent = 0
    idle: list[_Conn] = []

    def raw(i: int) -> bytes:
        payload = body(f"{prefix}-{i}", i)
        return head + b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload

    async def one(conn: _Conn | None, i: int, scheduled: float) -> _Conn | None:
        nonlocal errors
        try:
            if conn is None:
                conn = _Conn(*await asyncio.open_connection(host, port))
            status = await asyncio.wait_for(conn.request(raw(i)), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            errors += 1
            if conn is not None:
                conn.writer.close()
            return None
        latencies.append((time.perf_counter() - scheduled) * 1000)
        statuses[str(status)] += 1
        return conn

    start = time.perf_counter()
    deadline = start + duration
    if rate is None:

        async def worker() -> None:
            nonlocal sent
            conn: _Conn | None = None
            while time.perf_counter() < deadline:
                sent += 1
                conn = await one(conn, sent, time.perf_counter())
            if conn is not None:
                conn.writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))
    else:
        tasks: set[asyncio.Task[None]] = set()

        async def fire(i: int, scheduled: float) -> None:
            conn = await one(idle.pop() if idle else None, i, scheduled)
            if conn is not None:
                idle.append(conn)

        interval = 1.0 / rate
        while True:
            scheduled = start + sent * interval
            if scheduled >= deadline:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent += 1
            task = asyncio.create_task(fire(sent, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        for conn in idle:
            conn.writer.close()
    elapsed = time.perf_counter() - start
    latencies.sort()
    done = len(latencies)
    return LoadResult(
        tool="python",
        mode="closed" if rate is None else "open",
        seconds=round(elapsed, 3),
        requests=done,
        statuses=dict(statuses),
        errors=errors,
        rps=round(done / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(_percentile(latencies, 0.50), 3),
        p90_ms=round(_percentile(latencies, 0.90), 3),
        p99_ms=round(_percentile(latencies, 0.99), 3),
        max_ms=round(latencies[-1], 3) if latencies else 0.0,
    )


# --- running a load from the harness ------------------------------------------------------
def python_load(
    url: str,
    *,
    duration: float,
    connections: int = 32,
    rate: float | None = None,
    prefix: str,
    cpu: int = LOAD_CPU,
) -> LoadResult:
    argv = python("-m", "bench.load", url, "--duration", str(duration))
    argv += ["--connections", str(connections), "--prefix", prefix]
    if rate is not None:
        argv += ["--rate", str(rate)]
    out = subprocess.run(
        argv,
        capture_output=True,
        check=True,
        timeout=duration + 120,
        env={**os.environ, **child_env()},
        **pin(cpu),  # type: ignore[arg-type]
    )
    return LoadResult(**json.loads(out.stdout))


WRK_SCRIPT = """
local counter = 0
local threads = 0
local body_template = [[%(template)s]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Relay-Token"] = "%(token)s"
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function request()
  counter = counter + 1
  local n = tid * 1000003 + counter
  local phone = string.format("512-%%03d-%%04d", math.floor(n / 10000) %% 800 + 200, n %% 10000)
  local body = string.format(body_template, phone, "%(prefix)s-" .. tid .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    "WRKJSON {\\"requests\\":%%d,\\"non2xx\\":%%d,\\"errors\\":%%d,\\"us\\":" ..
    "[%%d,%%d,%%d,%%d],\\"seconds\\":%%f}\\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.duration / 1e6))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(
    url: str, *, duration: float, connections: int, prefix: str, workdir: Path, cpu: int = LOAD_CPU
) -> LoadResult:
    """Closed-loop load with wrk (one thread, on the load core); non-2xx are counted."""
    script = workdir / f"wrk-{prefix}.lua"
    script.write_text(
        WRK_SCRIPT % {"template": BODY_TEMPLATE, "token": HOOK_TOKEN, "prefix": prefix}
    )
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "-s", str(script)]
    argv += ["--timeout", "30s", url]
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 120,
        **pin(cpu),  # type: ignore[arg-type]
    )
    match = re.search(r"^WRKJSON (.*)$", out.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no summary: {out.stdout}\n{out.stderr}")
    got = json.loads(match.group(1))
    p50, p90, p99, worst = (v / 1000 for v in got["us"])
    ok = got["requests"] - got["non2xx"]
    return LoadResult(
        tool="wrk",
        mode="closed",
        seconds=round(got["seconds"], 3),
        requests=got["requests"],
        statuses={"2xx": ok, "non2xx": got["non2xx"]},
        errors=got["errors"],
        rps=round(got["requests"] / got["seconds"], 1),
        p50_ms=round(p50, 3),
        p90_ms=round(p90, 3),
        p99_ms=round(p99, 3),
        max_ms=round(worst, 3),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--prefix", default="load")
    args = parser.parse_args(argv)
    import uvloop

    # The generator's own full collections (15-50 ms once its tasks have piled up) stalled
    # every request scheduled meanwhile, and the fixed-rate p99 counted them as the relay's
    # (docs/benchmarks.md). A run lasts seconds and leaves little garbage: no collector.
    gc.disable()
    result = uvloop.run(
        _generate(
            args.url,
            duration=args.duration,
            connections=args.connections,
            rate=args.rate,
            prefix=args.prefix,
        )
    )
    print(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
