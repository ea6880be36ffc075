"""Instructions per webhook, counted by callgrind: a meter that a busy machine does not move.

On a shared VM two identical closed-loop runs can differ by 20 % in requests/s, more than
most changes to the relay are worth. ``valgrind --tool=callgrind`` counts the instructions a
process executes instead, the same on a busy machine as on a quiet one, so an A/B of a change
to the webhook's own code can be read from one run of each. What it counts:

* the relay's ASGI app driven in this process (``create_app``, its lifespan: queue, forwarder
  and all) on uvloop, as ``relay serve`` runs it; ``--in-flight`` webhooks at a time, the
  benchmark's body and source, a real SQLite file (or ``--queue-url``), JSON logs at INFO to
  a file, every thread of the process (the SQLite writer included);
* ``--app bare`` or ``--app durable``: instead of the relay, one of the baselines of
  ``bench.apps`` driven the same way: bare Starlette parsing the JSON, or the durable floor
  (that, and the raw body stored through the relay's own writer, ``synchronous=FULL``,
  before the 202), with the relay's collector policy as ``bench.apps`` runs them. The
  relay's count less the floor's is the relay's own work;
* no sockets: uvicorn's and the kernel's share of a request, the same as bare Starlette's, is
  not in it. ``--destination down`` (the default): outboundIQ is a closed port, so the
  forwarder's circuit opens on its first attempts and it waits: the intake alone.
  ``instant``: the forwarder's own client (``ForwardClient``, httpx's types) over an
  in-process transport that answers 202 at once, so every dial is also leased, POSTed, acked
  and logged: the intake and the delivery, without the sockets. ``dry-run``: deliveries are
  acked without a POST (``RELAY_DRY_RUN``).

The harness's own work per webhook (its body, its scope) is in the count too: a few thousand
instructions, the same in every run.

Two loops are counted (``--webhooks``, 500 and 1,500 by default) and the difference divided
by the difference in webhooks, so the interpreter's start-up, the imports and the lifespan
cancel out. ``--no-valgrind`` runs the loops without it (to check the harness; the smoke
test does this), and reports wall time instead.

``python -m bench.instructions [--webhooks 500 1500] [--in-flight 32] [--history on|off]
[--destination down|instant|dry-run] [--queue-url URL] [--log-level LEVEL]
[--app relay|bare|durable]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvloop
from pydantic import SecretStr

from bench.apps import bare_app, durable_app
from bench.load import HOOK_TOKEN, body
from bench.scenarios import API_KEY, SOURCES_YAML
from relay.app import create_app
from relay.app.heap import freeze_startup_heap
from relay.config.settings import Settings
from relay.core.sources import parse_sources
from relay.delivery.client import ForwardClient, create_client
from relay.obs.logs import configure_logging, flush_logs

__all__ = ["count", "main", "reading", "report", "two_loops"]


def _scope(path: str, length: int) -> dict[str, Any]:
    """What uvicorn hands the relay for one webhook (the keys the relay reads)."""
    return {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 40000),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            (b"x-relay-token", HOOK_TOKEN.encode()),
        ],
    }


def _receiver(payload: bytes) -> Any:
    """An ASGI ``receive`` that gives ``payload`` once (after that: a client that waits)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    return receive


async def _drive(app: Any, webhooks: int, in_flight: int, prefix: str) -> dict[str, int]:
    """``webhooks`` POSTs through ``app``, ``in_flight`` at a time; the statuses seen."""
    statuses: dict[str, int] = {}
    next_one = iter(range(webhooks))

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            key = str(message["status"])
            statuses[key] = statuses.get(key, 0) + 1

    async def worker() -> None:
        for n in next_one:
            payload = body(f"{prefix}-{n}", n)
            await app(_scope("/hooks/bench", len(payload)), _receiver(payload), send)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return statuses


def inner(args: argparse.Namespace) -> dict[str, Any]:
    """One loop in this process (what callgrind counts): the app, its lifespan, the webhooks."""
    workdir = Path(args.workdir)
    log_file = (workdir / "relay.log").open("w")
    configure_logging(args.log_level, json=True, stream=log_file)
    settings = Settings(
        queue_url=args.queue_url or f"sqlite:///{workdir / 'queue.db'}",
        outboundiq_url="http://127.0.0.1:9",  # nothing listens there: the circuit opens
        outboundiq_api_key=SecretStr(API_KEY),
        dry_run=args.destination == "dry-run",
        max_connections_per_client=0,
    )
    if args.history == "off":
        settings = settings.model_copy(update={"dial_history_seconds": 0.0})
    sources = parse_sources(SOURCES_YAML, env={}, default_api_key=SecretStr(API_KEY))
    client = _instant_client(settings) if args.destination == "instant" else None
    relay = args.app == "relay"
    baselines = {"bare": bare_app, "durable": lambda: durable_app(str(workdir / "durable.db"))}
    app = create_app(settings, sources=sources, client=client) if relay else baselines[args.app]()

    async def run() -> dict[str, int]:
        async with app.router.lifespan_context(app):
            statuses = await _drive(app, args.inner, args.in_flight, f"{time.time_ns():x}")
            if not relay:
                return statuses
            forwarder = app.state.runtime.forwarder
            deadline = time.monotonic() + 600
            while args.destination != "down" and forwarder.state.delivered < args.inner:
                if time.monotonic() > deadline:  # a delivery that never ends: say so, not hang
                    raise SystemExit(f"{forwarder.state.delivered} of {args.inner} delivered")
                await asyncio.sleep(0.001)  # every dial delivered before the loop ends
            return statuses

    if not relay:  # the relay's own collector policy, as bench.apps runs the baselines
        freeze_startup_heap()
    started = time.perf_counter()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as uvicorn's "auto"
        statuses = runner.run(run())
    seconds = time.perf_counter() - started
    flush_logs()
    log_file.close()
    delivered = app.state.runtime.forwarder.state.delivered if relay else 0
    return {
        "webhooks": args.inner,
        "statuses": statuses,
        "delivered": delivered,
        "stored": _rows_stored(workdir, args.app),
        "seconds": round(seconds, 3),
    }


def _rows_stored(workdir: Path, app: str) -> int | None:
    """The rows the loop left in its queue file: dials for the relay (every one still queued
    while outboundIQ is down), raw bodies for the durable floor; None for bare Starlette."""
    files = {"relay": ("queue.db", "dials"), "durable": ("durable.db", "hooks")}
    if app not in files or not (workdir / files[app][0]).exists():
        return None
    name, table = files[app]
    with contextlib.closing(sqlite3.connect(workdir / name)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


class _Accept(httpx.AsyncBaseTransport):
    """outboundIQ in process: a 202 to every POST, built as the relay's transport builds its
    answers (status, headers, a body read once, by the client)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # as the relay's transport encodes the body it sends
        return httpx.Response(
            202,
            headers=[(b"content-type", b"application/json")],
            stream=httpx.ByteStream(b'{"status":"accepted"}'),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


def _instant_client(settings: Settings) -> ForwardClient:
    """The relay's own forwarder client (``create_client``), on the in-process 202."""
    client = create_client(settings)
    client.transport = _Accept()
    return client


def _callgrind_total(out: Path) -> int:
    """The instructions (``Ir``) of every thread: the ``summary:`` (or ``totals:``) lines."""
    total = 0
    for path in out.parent.glob(out.name + "*"):  # one file per thread with --separate-threads
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total += int(line.split()[1])
                break
    return total


def two_loops(
    argv_for: Callable[[int, Path], list[str]],
    sizes: tuple[int, int],
    *,
    valgrind: bool,
    prefix: str,
) -> tuple[list[dict[str, Any]], float]:
    """Run a loop of each of ``sizes`` in a fresh process (``argv_for(size, workdir)``, which
    prints its result as JSON on its last line), under callgrind when ``valgrind``, each in
    a fresh temporary directory; the runs, and the count per item of the larger loop over
    the smaller: instructions under callgrind, else seconds. Start-up cancels out."""
    if valgrind and shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    runs = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            argv = argv_for(n, Path(tmp))
            out = Path(tmp) / "callgrind.out"
            if valgrind:
                argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]
            env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts every run
            done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                raise SystemExit(f"the loop of {n} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if valgrind:
                result["instructions"] = _callgrind_total(out)
            runs.append(result)
    key = "instructions" if valgrind else "seconds"
    return runs, (runs[1][key] - runs[0][key]) / (sizes[1] - sizes[0])


def reading(per: float, *, valgrind: bool, key: str) -> dict[str, Any]:
    """A ``two_loops`` count as the meters report it: instructions, else µs of wall time."""
    return {
        "meter": "callgrind instructions" if valgrind else "wall seconds (no valgrind)",
        key: round(per) if valgrind else round(per * 1e6, 1),
        "unit": "instructions" if valgrind else "µs (wall, noisy)",
    }


def report(result: dict[str, Any], *, key: str, item: str, json_path: Path | None) -> None:
    """Write ``result`` to ``json_path`` (when given) and print its count per ``item``."""
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    print(f"{result[key]:,} {result['unit']} per {item} ({result['meter']})")


def count(
    webhooks: tuple[int, int] = (500, 1500),
    *,
    in_flight: int = 32,
    history: str = "on",
    destination: str = "down",
    queue_url: str | None = None,
    log_level: str = "INFO",
    valgrind: bool = True,
    app: str = "relay",
) -> dict[str, Any]:
    """Run both loops (each in a fresh process and a fresh queue file) and return the count
    per webhook: instructions under callgrind, else seconds."""

    def argv_for(n: int, workdir: Path) -> list[str]:
        argv = [sys.executable, "-m", "bench.instructions", "--inner", str(n)]
        argv += ["--workdir", str(workdir), "--in-flight", str(in_flight), "--history", history]
        argv += ["--queue-url", queue_url] if queue_url else []
        argv += ["--destination", destination]
        return [*argv, "--log-level", log_level, "--app", app]

    runs, per = two_loops(argv_for, webhooks, valgrind=valgrind, prefix="relay-instructions-")
    return {
        **reading(per, valgrind=valgrind, key="per_webhook"),
        "app": app,
        "in_flight": in_flight,
        "history": history,
        "destination": destination,
        "log_level": log_level,
        "queue": queue_url or "sqlite (a fresh file per loop)",
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--webhooks", type=int, nargs=2, default=[500, 1500], metavar="N")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--history", choices=["on", "off"], default="on")
    parser.add_argument(
        "--destination",
        choices=["down", "instant", "dry-run"],
        default="down",
        help="outboundIQ: a closed port (intake alone), an in-process 202, or dry-run",
    )
    parser.add_argument("--queue-url", help="another queue (redis://...); SQLite by default")
    parser.add_argument("--log-level", default="INFO", help="the relay's log level (INFO)")
    parser.add_argument(
        "--app",
        choices=["relay", "bare", "durable"],
        default="relay",
        help="the relay, or a baseline of bench.apps driven the same way (bare, durable)",
    )
    parser.add_argument("--no-valgrind", action="store_true", help="wall time, to check it")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner is not None:
        print(json.dumps(inner(args)))
        return 0
    small, large = args.webhooks
    if not 0 < small < large:
        parser.error("--webhooks wants two counts, the first smaller")
    result = count(
        (small, large),
        in_flight=args.in_flight,
        history=args.history,
        destination=args.destination,
        queue_url=args.queue_url,
        log_level=args.log_level,
        valgrind=not args.no_valgrind,
        app=args.app,
    )
    report(result, key="per_webhook", item="webhook", json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
