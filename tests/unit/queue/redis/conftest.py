"""Redis queues under test: a key prefix per test, and replicas made on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.queue.redis import RedisStreamQueue
from tests.support.redis import REDIS_URL, PrivateRedis, unique_prefix
from tests.unit.queue.redis.support import MakeQueue


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    with unique_prefix(tmp_path) as name:
        yield name


@pytest.fixture
async def make_queue(prefix: str) -> AsyncIterator[MakeQueue]:
    opened: list[RedisStreamQueue] = []

    async def factory(**overrides: Any) -> RedisStreamQueue:
        options: dict[str, Any] = {
            "prefix": prefix,
            "consumer": f"replica-{len(opened)}",
            "block_seconds": 0,
        }
        options.update(overrides)
        queue = RedisStreamQueue(options.pop("url", REDIS_URL), **options)
        await queue.open()
        opened.append(queue)
        return queue

    yield factory
    for queue in opened:
        await queue.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own: its counters (``INFO``) count this test alone."""
    server = PrivateRedis(tmp_path / "private-redis").start()
    yield server
    server.kill()


@pytest.fixture
def full_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own with 3 MB of memory, refusing writes past it."""
    server = PrivateRedis(
        tmp_path / "full", "--maxmemory", "3mb", "--maxmemory-policy", "noeviction"
    ).start()
    yield server
    server.kill()
