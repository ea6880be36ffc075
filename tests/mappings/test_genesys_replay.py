"""``relay rejected replay`` stores a replayed Genesys event as its resolve job."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from relay.cli import main
from relay.queue.base import LeasedDial, RejectedRecord
from relay.queue.sqlite import SqliteQueue
from tests.mappings.conftest import FIXTURES, fixture, genesys_env
from tests.support.fake_genesys import FakeGenesys


async def _reject(queue: SqliteQueue, *bodies: object) -> None:
    await queue.open()
    for body in bodies:
        record = RejectedRecord(
            "", "genesys", time.time(), "POST", "application/json", {}, json.dumps(body).encode()
        )
        await queue.add_rejected(record)
    await queue.close()


async def _lease(queue: SqliteQueue) -> list[LeasedDial]:
    await queue.open()
    try:
        return await queue.lease(10, 30, now=time.time() + 3600)
    finally:
        await queue.close()


def test_replayed_events_become_a_job_or_are_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    genesys: FakeGenesys,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A replayed terminal event is stored as its resolve job; a non-terminal one is dropped."""
    db = tmp_path / "queue.db"
    for key, value in genesys_env(genesys).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RELAY_SOURCES_FILE", str(FIXTURES / "sources.yaml"))
    monkeypatch.setenv("RELAY_QUEUE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("RELAY_DRY_RUN", "true")
    outbound, _user_end, customer_end = fixture("outbound_agent", "events.json")[:3]
    asyncio.run(_reject(SqliteQueue(db), customer_end, outbound))
    assert main(["rejected", "replay", "--all"]) == 0
    assert "queued 1, duplicate 0, still rejected 0, ignored 1" in capsys.readouterr().out
    [job] = asyncio.run(_lease(SqliteQueue(db)))
    assert (job.kind, job.dial_id) == (
        "genesys.resolve",
        customer_end["detail"]["eventBody"]["conversationId"],
    )
    assert genesys.requests == []
