"""The baselines the relay is measured against, each run as its own process.

* ``bare``: Starlette that parses the JSON and answers 202 (no queue): the stack's ceiling.
* ``naive``: what a user would write by hand: map, await the POST to outboundIQ, then answer.
* ``durable``: ``bare``, and the raw body stored before the 202 through the relay's own
  group-commit writer (``SqliteWriter``, ``synchronous=FULL``, one table, one row): the
  floor of any durable intake on this stack, with none of the relay's own work.

The stand-in for outboundIQ itself is ``bench.sink`` (or nginx).

Each runs with the relay's own garbage-collector policy (``relay.app.heap``: the start-up
heap frozen, young collections spaced out), set once its imports are done, as the relay sets
it once it has started. Without it, the durable floor spent about 15 % of its CPU in full
collections (requests waiting for their commit survive into the old generation), and was
measured about 15 % below what it reaches with it (docs/benchmarks.md); a baseline must not
lose to the relay on a setting anyone can copy.

``python -m bench.apps {bare,naive,durable} --port P [--destination URL] [--db FILE]``
"""

from __future__ import annotations

import argparse
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relay.app.heap import freeze_startup_heap
from relay.config.settings import Settings
from relay.core.dial import DIAL_FIELDS
from relay.intake.server import server_config
from relay.queue.sqlite.writer import SqliteWriter


async def _healthz(_request: Request) -> Response:
    """Ready; and how many objects the collector no longer walks (the heap policy, above)."""
    return JSONResponse({"status": "ok", "gc_frozen": gc.get_freeze_count()})


def bare_app() -> Starlette:
    async def hook(request: Request) -> Response:
        data = orjson.loads(await request.body())
        return JSONResponse({"status": "queued", "dial_id": data.get("dial_id")}, status_code=202)

    return Starlette(
        routes=[
            Route("/hooks/{source}", hook, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ]
    )


def durable_app(db: str) -> Starlette:
    writer = SqliteWriter(
        db, schema="CREATE TABLE IF NOT EXISTS hooks (id INTEGER PRIMARY KEY, body BLOB NOT NULL);"
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await writer.open()
        try:
            yield
        finally:
            await writer.close()

    async def hook(request: Request) -> Response:
        body = await request.body()
        data = orjson.loads(body)

        def store(c: Any) -> int:
            return int(c.execute("INSERT INTO hooks (body) VALUES (?)", (body,)).lastrowid)

        await writer.call(store)
        return JSONResponse({"status": "queued", "dial_id": data.get("dial_id")}, status_code=202)

    return Starlette(
        routes=[
            Route("/hooks/{source}", hook, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def naive_app(destination: str, api_key: str) -> Starlette:
    state: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=destination, timeout=10) as client:
            state["client"] = client
            yield

    async def hook(request: Request) -> Response:
        data = orjson.loads(await request.body())
        dial = {name: data.get(name, "") for name in DIAL_FIELDS}
        try:
            answer = await state["client"].post(
                "/dials", json=dial, headers={"Authorization": f"Bearer {api_key}"}
            )
        except httpx.HTTPError as exc:
            return JSONResponse({"status": "error", "error": repr(exc)}, status_code=502)
        if answer.is_success:
            return JSONResponse({"status": "queued", "dial_id": dial["dial_id"]}, status_code=202)
        return JSONResponse({"status": "error", "upstream": answer.status_code}, status_code=502)

    return Starlette(
        routes=[
            Route("/hooks/{source}", hook, methods=["POST"]),
            Route("/healthz", _healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.apps")
    parser.add_argument("kind", choices=["bare", "naive", "durable"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--destination", default="http://127.0.0.1:9")
    parser.add_argument("--api-key", default="bench-key")
    parser.add_argument("--db", default="durable.db", help="the durable app's queue file")
    args = parser.parse_args(argv)
    apps = {
        "bare": bare_app,
        "durable": lambda: durable_app(args.db),
        "naive": lambda: naive_app(args.destination, args.api_key),
    }
    app: Any = apps[args.kind]()
    settings = Settings(
        host="127.0.0.1",
        port=args.port,
        shutdown_grace_seconds=1,
        max_connections_per_client=0,  # the load generator is one client, as for the relay
    )
    freeze_startup_heap()  # as the relay does once started (the module docstring)
    uvicorn.Server(server_config(app, settings)).run()


if __name__ == "__main__":
    main()
