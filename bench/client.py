"""The raw client ceiling: POST one dial as fast as a client can, no queue, no relay.

``relay`` is exactly the client the forwarder builds (``relay.delivery.client.create_client``:
``ForwardClient`` on ``Http1Transport``);
``httpx-default`` is httpx with its own transport (httpcore) and the same limits;
``aiohttp`` is aiohttp alone. ``python -m bench.client URL --transport T`` prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx

from bench.scenarios import wire_template
from relay.config.settings import Settings
from relay.delivery.client import ForwardClient, create_client

BODY = wire_template() % b"c-1"
AUTH = {"Authorization": "Bearer bench-outboundiq-key"}


async def _drive(
    post: Callable[[], Awaitable[int]], concurrency: int, seconds: float
) -> tuple[int, float, float]:
    await asyncio.gather(*(post() for _ in range(concurrency)))  # open the pool
    done = 0
    started = time.perf_counter()
    cpu = time.process_time()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            status = await post()
            if status != 200:
                raise RuntimeError(f"sink answered {status}")
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started, time.process_time() - cpu


async def measure(url: str, transport: str, concurrency: int, seconds: float) -> dict[str, object]:
    if transport == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(url, connector=connector) as session:

            async def post_aiohttp() -> int:
                async with session.post("/dials", data=BODY, headers=AUTH) as r:
                    await r.read()
                    return r.status

            done, elapsed, cpu = await _drive(post_aiohttp, concurrency, seconds)
    else:
        settings = Settings(outboundiq_url=url, forward_concurrency=concurrency)
        client: ForwardClient | httpx.AsyncClient
        if transport == "relay":
            client = create_client(settings)
        else:
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            client = httpx.AsyncClient(base_url=url, limits=limits)
        async with client:

            async def post_httpx() -> int:
                if isinstance(client, ForwardClient):  # as the forwarder posts (Poster)
                    answer, _body = await client.send("/dials", content=BODY, headers=AUTH)
                    return answer.status_code
                r = await client.post("/dials", content=BODY, headers=AUTH)
                return r.status_code

            done, elapsed, cpu = await _drive(post_httpx, concurrency, seconds)
    return {
        "transport": transport,
        "concurrency": concurrency,
        "requests": done,
        "rps": round(done / elapsed, 1),
        # the client process's CPU per POST: steadier than req/s on a busy machine
        "cpu_us_per_request": round(cpu / done * 1e6, 1) if done else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("url")
    parser.add_argument("--transport", choices=["relay", "httpx-default", "aiohttp"])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(measure(args.url, args.transport, args.concurrency, args.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
