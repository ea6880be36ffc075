"""A relay on Redis under many concurrent dialer connections: no 503 while Redis is healthy.

Count-based, not timed: a fixed number of webhooks over 256 concurrent keep-alive
connections, then every answer and every stored dial is counted. The relay runs on a Redis
of its own, so that Redis's counters (``INFO``) show what this relay alone sent it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from relay.queue.base import QueueStats
from relay.queue.redis import RedisStreamQueue
from tests.conftest import BASIC_SOURCES, DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.raw_http import request
from tests.support.redis import PrivateRedis
from tests.support.relay_server import RelayProcess

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CONNECTIONS = 256
PER_CONNECTION = 40  # 10,240 webhooks


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def relay(
    tmp_path: Path, fake: FakeOutboundIQ, private_redis: PrivateRedis
) -> Iterator[RelayProcess]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(BASIC_SOURCES)
    process = RelayProcess(
        {
            "RELAY_QUEUE_URL": private_redis.url,
            "RELAY_SOURCES_FILE": str(sources),
            "RELAY_OUTBOUNDIQ_URL": fake.url,
            "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
            "RELAY_SHUTDOWN_GRACE_SECONDS": "1",
        },
        cwd=ROOT,
        log_path=tmp_path / "relay.log",
    ).start()
    yield process
    if process.proc is not None and process.proc.poll() is None:
        process.terminate()


async def _dialer(port: int, ids: list[str], answers: dict[str, int]) -> None:
    """One keep-alive connection posting ``ids`` one after the other."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for dial_id in ids:
            body = orjson.dumps(dial_body(dial_id=dial_id))
            headers = [("Content-Type", "application/json"), ("X-Relay-Token", "crm-hook-secret")]
            writer.write(request("POST", "/hooks/crm", headers, body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            answers[dial_id] = int(head.split(b" ", 2)[1])
    finally:
        writer.close()
        await writer.wait_closed()


async def _post_all(port: int, connections: int, per_connection: int) -> dict[str, int]:
    """``connections`` dialers at once, ``per_connection`` webhooks each: status per dial_id."""
    answers: dict[str, int] = {}
    await asyncio.gather(
        *(
            _dialer(port, [f"load-{n}-{i}" for i in range(per_connection)], answers)
            for n in range(connections)
        )
    )
    return answers


async def _stats(url: str) -> QueueStats:
    queue = RedisStreamQueue(url, consumer="test-observer")
    await queue.open()
    try:
        return await queue.stats(now=time.time() + 10**6)
    finally:
        await queue.close()


def _stored_dial_ids(r: redis.Redis) -> Counter[str]:
    """The dial_id of every dial hash in Redis, read straight from Redis."""
    keys = list(r.scan_iter(match="{relay}:dial:*", count=1000))
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.hget(key, "i")
    return Counter(value.decode() for value in pipe.execute() if value is not None)


def _counters(r: redis.Redis) -> tuple[int, int]:
    """(read events Redis processed: about one per round trip, EVALSHA calls)."""
    stats = r.info("stats")
    calls = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    return int(stats["total_reads_processed"]), int(calls)


def test_256_connections_no_503_and_every_202_stored(
    relay: RelayProcess, fake: FakeOutboundIQ, private_redis: PrivateRedis
) -> None:
    """256 dialer connections post 10,240 webhooks: all 202, and Redis holds every one."""
    fake.default = Reply(503)  # outboundIQ down: every dial stays in Redis, to be counted
    total = CONNECTIONS * PER_CONNECTION
    with redis.Redis.from_url(private_redis.url) as r:
        reads, scripts = _counters(r)
        answers = asyncio.run(_post_all(relay.port, CONNECTIONS, PER_CONNECTION))
        reads_after, scripts_after = _counters(r)
        print(
            f"\n{total} webhooks: {(reads_after - reads) / total:.3f} Redis reads (round trips)"
            f" and {(scripts_after - scripts) / total:.3f} scripts per webhook"
        )
        failures = [line for line in relay.logs().splitlines() if "queue_store_failed" in line]
        assert Counter(answers.values()) == {202: total}, failures[:5]
        stats = asyncio.run(_stats(private_redis.url))
        assert stats.ready + stats.delayed + stats.leased == total
        assert stats.by_source == {"crm": total}
        assert _stored_dial_ids(r) == Counter(dict.fromkeys(answers, 1))
