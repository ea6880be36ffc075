"""The queue backends the core's tests run against: each test once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from relay.queue.base import DialQueue
from relay.queue.redis import RedisStreamQueue
from relay.queue.sqlite import SqliteQueue
from tests.support.redis import REDIS_URL, unique_prefix


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DialQueue]:
    with unique_prefix(tmp_path) as prefix:
        queue: DialQueue = (
            SqliteQueue(tmp_path / "q.db")
            if request.param == "sqlite"
            else RedisStreamQueue(REDIS_URL, prefix=prefix, consumer="t", block_seconds=0)
        )
        await queue.open()
        yield queue
        await queue.close()
