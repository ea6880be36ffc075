"""Redis: ``RedisStreamQueue`` as a whole, behind the operator CLI."""

from __future__ import annotations

import asyncio
import time

import pytest

from relay.queue.redis import RedisStreamQueue
from tests.support.redis import REDIS_URL
from tests.unit.queue.redis.support import new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


def test_operator_cli_on_redis(
    prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`relay queue stats` and `relay dlq list|replay` work on the Redis queue."""
    from relay.cli import main

    monkeypatch.setenv("RELAY_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", prefix)

    async def seed() -> None:
        q = RedisStreamQueue(REDIS_URL, prefix=prefix, block_seconds=0)
        await q.open()
        for dial_id in ("ok", "bad"):
            await q.enqueue(new(dial_id), 60)
        bad = [d for d in await q.lease(2, 30, now=time.time()) if d.dial_id == "bad"]
        await q.dead_letter(bad[0].id, reason="http_422", status=422, response_body="{}", now=1.0)
        await q.close()

    asyncio.run(seed())
    assert main(["queue", "stats"]) == 0
    out = capsys.readouterr().out
    assert "leased    1" in out and "dead      1" in out
    assert main(["dlq", "list"]) == 0
    assert "\tbad\t422\thttp_422\t" in capsys.readouterr().out
    assert main(["dlq", "replay", "--all"]) == 0
    assert "re-queued 1 dead letter(s)" in capsys.readouterr().out
