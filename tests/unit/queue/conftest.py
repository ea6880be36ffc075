"""Queue backends under test: every contract test runs against each of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from relay.queue.base import DialQueue
from relay.queue.redis import RedisStreamQueue
from relay.queue.sqlite import SqliteQueue
from tests.support.redis import REDIS_URL, drop_prefix, prefix_for

BACKENDS: dict[str, Callable[[Path], DialQueue]] = {
    "sqlite": lambda tmp: SqliteQueue(tmp / "contract.db"),
    "redis": lambda tmp: RedisStreamQueue(
        REDIS_URL, prefix=prefix_for(tmp), consumer="contract", block_seconds=0
    ),
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.redis] if name == "redis" else [])
        for name in sorted(BACKENDS)
    ]
)
def queue_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], DialQueue]]:
    make = BACKENDS[request.param]
    yield lambda: make(tmp_path)
    if request.param == "redis":
        drop_prefix(prefix_for(tmp_path))


@pytest.fixture
async def queue(queue_factory: Callable[[], DialQueue]) -> AsyncIterator[DialQueue]:
    q = queue_factory()
    await q.open()
    yield q
    await q.close()
