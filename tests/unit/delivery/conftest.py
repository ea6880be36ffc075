"""Delivery parts against a real SQLite queue, on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.queue.sqlite import SqliteQueue
from tests.support.delivery import SOURCES, Bench


@pytest.fixture
def settings() -> Settings:
    return Settings(
        retry_base_seconds=1.0,
        retry_cap_seconds=10.0,
        retry_after_cap_seconds=100.0,
        key_probe_seconds=60.0,
        circuit_threshold=3,
        circuit_probe_seconds=2.0,
    )


@pytest.fixture
async def bench(
    tmp_path: Path, settings: Settings, make_sources: Callable[..., dict[str, Source]]
) -> AsyncIterator[Bench]:
    """``Outcomes`` as the forwarder wires it, on an open SQLite queue of its own."""
    wired = Bench(SqliteQueue(tmp_path / "q.db"), make_sources(SOURCES), settings)
    await wired.queue.open()
    yield wired
    await wired.queue.close()
