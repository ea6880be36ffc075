"""Instructions per POST of the forwarder's own client, over real sockets, counted by callgrind.

``bench.instructions`` counts the relay in process, with outboundIQ an in-process 202: the
forwarder's HTTP/1.1 transport (``relay.delivery.transport``) is not in it. This meter is:

* one process POSTs the benchmark's dial through ``ForwardClient.send`` (``create_client``:
  the forwarder's client on ``Http1Transport``, as the ``Poster`` sends), ``--in-flight``
  POSTs at a time, to a sink in another process (nginx when installed, else the Python sink;
  ``--url`` for another), on keep-alive connections;
* callgrind counts that process alone (every thread), so the sink and the kernel are not in
  it: the client's own work per POST (building the request, encoding it, parsing the answer,
  the pool, the event loop's share);
* two loops (``--posts``, 2,000 and 6,000 by default) and the difference divided by the
  difference, so start-up and imports cancel out. ``--no-valgrind`` reports wall time.

``python -m bench.post_instructions [--posts 2000 6000] [--in-flight 64] [--url URL]
[--no-valgrind] [--json FILE]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.client import AUTH, BODY
from bench.instructions import reading, report, two_loops
from bench.procs import start_sink
from relay.config.settings import Settings
from relay.delivery.client import create_client

__all__ = ["count", "main"]


async def _posts(url: str, posts: int, in_flight: int) -> dict[str, Any]:
    client = create_client(Settings(outboundiq_url=url, forward_concurrency=in_flight))
    statuses: dict[str, int] = {}
    left = iter(range(posts))

    async def worker() -> None:
        for _ in left:
            answer, _body = await client.send("/dials", content=BODY, headers=AUTH)
            key = str(answer.status_code)
            statuses[key] = statuses.get(key, 0) + 1

    async with client:
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return statuses


def inner(url: str, posts: int, in_flight: int) -> dict[str, Any]:
    started = time.perf_counter()
    statuses = uvloop.run(_posts(url, posts, in_flight))
    return {"posts": posts, "statuses": statuses, "seconds": time.perf_counter() - started}


def count(
    url: str, posts: tuple[int, int] = (2000, 6000), *, in_flight: int = 64, valgrind: bool = True
) -> dict[str, Any]:
    """Both loops, each in a fresh process; instructions per POST (or µs without valgrind)."""

    def argv_for(n: int, _workdir: Path) -> list[str]:
        argv = [sys.executable, "-m", "bench.post_instructions", "--inner", str(n)]
        return [*argv, "--url", url, "--in-flight", str(in_flight)]

    runs, per = two_loops(argv_for, posts, valgrind=valgrind, prefix="relay-post-instructions-")
    return {
        **reading(per, valgrind=valgrind, key="per_post"),
        "in_flight": in_flight,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.post_instructions", description=__doc__)
    parser.add_argument("--posts", type=int, nargs=2, default=[2000, 6000], metavar="N")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--url", help="the sink (default: nginx if installed, else Python)")
    parser.add_argument("--no-valgrind", action="store_true", help="wall time, to check it")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner is not None:
        print(json.dumps(inner(args.url, args.inner, args.in_flight)))
        return 0
    small, large = args.posts
    if not 0 < small < large:
        parser.error("--posts wants two counts, the first smaller")
    valgrind = not args.no_valgrind
    if args.url:
        result = count(args.url, (small, large), in_flight=args.in_flight, valgrind=valgrind)
        result["sink"] = args.url
    else:
        with tempfile.TemporaryDirectory(prefix="relay-post-sink-") as tmp:
            sink = start_sink("nginx", Path(tmp))  # the Python sink when nginx is missing
            try:
                result = count(
                    sink.url, (small, large), in_flight=args.in_flight, valgrind=valgrind
                )
            finally:
                sink.stop()
        result["sink"] = sink.kind
    report(result, key="per_post", item="POST", json_path=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
