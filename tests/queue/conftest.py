"""Queue backends under test: every contract test runs against each of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from relay.queue.base import DialQueue
from relay.queue.sqlite import SqliteQueue

BACKENDS: dict[str, Callable[[Path], DialQueue]] = {
    "sqlite": lambda tmp: SqliteQueue(tmp / "contract.db"),
}


@pytest.fixture(params=sorted(BACKENDS))
def queue_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], DialQueue]:
    make = BACKENDS[request.param]
    return lambda: make(tmp_path)


@pytest.fixture
async def queue(queue_factory: Callable[[], DialQueue]) -> AsyncIterator[DialQueue]:
    q = queue_factory()
    await q.open()
    yield q
    await q.close()
