"""Scenario 7: the intake with the console open, against the same run without it.

In alternating rounds (off, on, on, off, ...; ``console_rounds`` each), the relay (admin token
set in both modes, forwarding to the instant sink) takes the closed-loop load of scenario 2 for
``duration`` s. With the console *on*, an operator's browser is simulated meanwhile
(``ConsoleWatcher``, threads of this process, so on the load's core): signed in with the
admin token, it fetches ``GET /console/overview`` every 2 s (what console.js does) and holds the
live event stream open, reading every event.

Then, still in the same mode, ``FIXED_RATE`` webhooks/s for ``latency_seconds``: at a rate
both modes sustain, the relay's CPU µs per webhook compares like with like (a closed loop runs
faster or slower with the machine's noise, and the relay's group commits batch differently at
each speed).

A third mode, *tail*, holds one ``relay tail`` instead: ``/admin/events`` with the Bearer token,
every event (the Live page's stream takes at most ``LIVE_PER_SECOND`` of each kind a second).

Reported per mode (median round by req/s): webhooks/s, p99, the relay's CPU µs per webhook;
at the fixed rate, the median CPU µs per webhook; with the console on, how many overview polls
and streamed events the watcher got. The ratios ``console_open_to_closed`` (req/s) and
``fixed_rate_cpu_open_to_closed`` (CPU µs per webhook at the fixed rate) are on ÷ off, the
``*tail_to_closed`` ones tail ÷ off (docs/benchmarks.md).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any

import httpx

from bench.load import python_load
from bench.scenarios import Bench

ADMIN_TOKEN = "bench-console-admin-token-0123456789"
#: How often the overview page fetches its body (relay/console/static/console.js data-every).
POLL_SECONDS = 2.0
#: The fixed rate (webhooks/s) of the second phase: low enough for a busy 2-core machine, so
#: the relay's CPU per webhook compares like with like (no batching difference).
FIXED_RATE = 300.0
#: The console's live stream (SSE), signed in by the session cookie, as the Live page's script.
STREAM_PATH = "/console/events"


#: ``relay tail``'s stream: every event, no rate limit, the admin token as a Bearer.
TAIL_PATH = "/admin/events"
#: The modes of a round: no watcher; the console (overview and Live page); ``relay tail``.
MODES = ("off", "on", "tail")


class ConsoleWatcher:
    """One signed-in browser on the console: the overview's refresh and the live stream; or,
    ``tail``, one ``relay tail`` following ``/admin/events`` (no overview)."""

    def __init__(self, base: str, tail: bool = False) -> None:
        self.base = base
        self.tail = tail
        self.path = TAIL_PATH if tail else STREAM_PATH
        self.client = httpx.Client(base_url=base, timeout=httpx.Timeout(10.0, read=None))
        self.stopping = threading.Event()
        self.polls = 0
        self.poll_failures = 0
        self.poll_ms: list[float] = []
        self.events = 0
        self.missed = 0
        self.skipped = 0
        self.stream_ready = threading.Event()
        self._poller = None if tail else threading.Thread(target=self._poll, daemon=True)
        self._threads = [threading.Thread(target=self._stream, daemon=True)]
        if self._poller is not None:
            self._threads.append(self._poller)

    def start(self) -> ConsoleWatcher:
        if self.tail:
            self.client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        else:
            signed = self.client.post("/console/login", data={"token": ADMIN_TOKEN})
            if signed.status_code != 303 or "relay_console" not in self.client.cookies:
                raise RuntimeError(f"console sign-in failed: {signed.status_code}")
        for thread in self._threads:
            thread.start()
        if not self.stream_ready.wait(10):
            raise RuntimeError(f"the live stream {self.path} did not open")
        return self

    def _poll(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                reply = self.client.get("/console/overview")
                ok = reply.status_code == 200 and "Sources" in reply.text
            except httpx.HTTPError:
                ok = False
            self.poll_ms.append((time.perf_counter() - started) * 1000)
            self.polls += 1
            self.poll_failures += not ok
            self.stopping.wait(POLL_SECONDS)

    def _stream(self) -> None:
        headers = {"Accept": "text/event-stream"}
        try:
            with self.client.stream("GET", self.path, headers=headers) as reply:
                kind = "message"
                for line in reply.iter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        if kind == "ready":
                            self.stream_ready.set()
                        elif kind in ("missed", "skipped"):
                            count = int(line.split(f'"{kind}":', 1)[1].split(",")[0])
                            if kind == "missed":
                                self.missed += count
                            else:
                                self.skipped += count
                        else:
                            self.events += 1
                    elif not line:
                        kind = "message"
                    if self.stopping.is_set():
                        return
        except httpx.HTTPError:
            pass  # the relay stopped: the stream ends with it

    def stop_polling(self) -> None:
        """The load is over: no overview fetch may meet the relay stopping."""
        self.stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=15)

    def stop(self) -> dict[str, Any]:
        self.stop_polling()
        for thread in self._threads:
            thread.join(timeout=15)
        self.client.close()
        return {
            "overview_polls": self.polls,
            "overview_poll_failures": self.poll_failures,
            "overview_p50_ms": round(statistics.median(self.poll_ms), 2) if self.poll_ms else None,
            "stream": self.path,
            "streamed_events": self.events,
            "stream_missed_events": self.missed,
            "stream_skipped_events": self.skipped,
        }


def one_round(bench: Bench, mode: str, n: int) -> dict[str, Any]:
    workdir = bench.plan.workdir / f"console-{mode}-{n}"
    workdir.mkdir(parents=True)
    sink = bench.sink(workdir)
    proc, base = bench.start_relay(
        workdir, sink.url, workdir / "queue.db", RELAY_ADMIN_TOKEN=ADMIN_TOKEN
    )
    watcher = ConsoleWatcher(base, tail=mode == "tail").start() if mode != "off" else None
    try:
        cpu = proc.cpu_seconds()
        got = bench.closed_load(base + "/hooks/bench", workdir)
        cpu = proc.cpu_seconds() - cpu
        fixed_cpu = proc.cpu_seconds()
        fixed = python_load(
            base + "/hooks/bench",
            duration=bench.plan.latency_seconds,
            rate=FIXED_RATE,
            prefix=uuid.uuid4().hex[:8],
        )
        fixed_cpu = proc.cpu_seconds() - fixed_cpu
    finally:
        if watcher is not None:
            watcher.stop_polling()
        proc.stop()  # ends the live stream too
        sink.stop()
    seen = watcher.stop() if watcher is not None else {}
    return {
        "rps": got.rps,
        "p50_ms": got.p50_ms,
        "p99_ms": got.p99_ms,
        "requests": got.requests,
        "errors": got.errors,
        "cpu_us_per_request": _per(cpu, got.requests),
        "fixed_rate": FIXED_RATE,
        "fixed_rate_p99_ms": fixed.p99_ms,
        "fixed_rate_cpu_us_per_request": _per(fixed_cpu, fixed.requests),
        **seen,
    }


def _per(cpu_seconds: float, count: int) -> float | None:
    return round(cpu_seconds / count * 1e6, 1) if count else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _median(values: list[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(numbers), 1) if numbers else None


def console_cost(bench: Bench) -> dict[str, Any]:
    """Console off, on, and a ``relay tail`` instead, ``console_rounds`` rounds each, in an
    order that turns each round (off, on, tail; on, tail, off; ...); medians by req/s."""
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    for i in range(bench.plan.console_rounds):
        turn = i % len(MODES)
        for mode in MODES[turn:] + MODES[:turn]:
            runs[mode].append(one_round(bench, mode, i))
    median = {m: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for m, rs in runs.items()}
    on, off, tail = median["on"], median["off"], median["tail"]
    fixed = {m: _median([r["fixed_rate_cpu_us_per_request"] for r in rs]) for m, rs in runs.items()}
    return {
        "off": off,
        "on": on,
        "tail": tail,
        "round_rps": {m: [r["rps"] for r in rs] for m, rs in runs.items()},
        "round_cpu_us": {m: [r["cpu_us_per_request"] for r in rs] for m, rs in runs.items()},
        "round_fixed_rate_cpu_us": {
            m: [r["fixed_rate_cpu_us_per_request"] for r in rs] for m, rs in runs.items()
        },
        "fixed_rate_cpu_us_per_request": fixed,
        "stream": STREAM_PATH,
        "console_open_to_closed": _ratio(on["rps"], off["rps"]),
        "cpu_open_to_closed": _ratio(on["cpu_us_per_request"], off["cpu_us_per_request"]),
        "fixed_rate_cpu_open_to_closed": _ratio(fixed["on"], fixed["off"]),
        "tail_to_closed": _ratio(tail["rps"], off["rps"]),
        "cpu_tail_to_closed": _ratio(tail["cpu_us_per_request"], off["cpu_us_per_request"]),
        "fixed_rate_cpu_tail_to_closed": _ratio(fixed["tail"], fixed["off"]),
    }
