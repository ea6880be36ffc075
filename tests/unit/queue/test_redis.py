"""What only the Redis queue has: several consumers, take-over, poison, recovery, safety checks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from structlog.testing import capture_logs

from relay.config.settings import Settings
from relay.exceptions import QueueUnavailable
from relay.queue import create_queue
from relay.queue.base import NewDial, RejectedRecord
from relay.queue.redis import RedisStreamQueue, server_warnings
from tests.support.fake_outboundiq import free_port
from tests.support.redis import (
    REDIS_URL,
    PrivateRedis,
    drop_prefix,
    self_signed_cert,
    unique_prefix,
)

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

MakeQueue = Callable[..., Awaitable[RedisStreamQueue]]


def new(dial_id: str, source: str = "crm", at: float | None = None) -> NewDial:
    return NewDial(
        source=source,
        dial_id=dial_id,
        payload=b'{"dial_id":"%s"}' % dial_id.encode(),
        received_at=time.time() if at is None else at,
    )


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


async def test_replicas_share_the_work_once(make_queue: MakeQueue) -> None:
    """Two consumers on one queue each lease a different share; no dial goes to both."""
    a, b = await make_queue(), await make_queue()
    for i in range(40):
        assert await a.enqueue(new(f"d{i}"), 60)
    got: list[str] = []
    for _ in range(10):
        for queue in (a, b):
            leased = await queue.lease(3, 30, now=time.time())
            got += [d.dial_id for d in leased]
            await queue.ack([d.id for d in leased])
    assert Counter(got) == Counter(f"d{i}" for i in range(40))
    stats = await b.stats(now=time.time())
    assert (stats.ready, stats.leased, stats.delayed, stats.by_source) == (0, 0, 0, {})


async def test_dedupe_is_shared_by_replicas(make_queue: MakeQueue) -> None:
    """A dial_id stored through one replica is a duplicate on another."""
    a, b = await make_queue(), await make_queue()
    assert await a.enqueue(new("x"), 60)
    assert not await b.enqueue(new("x"), 60)
    assert (await b.stats(now=time.time())).ready == 1


async def test_dead_replicas_leases_are_taken_over(make_queue: MakeQueue) -> None:
    """Leases of a consumer that stopped answering go to another after the visibility timeout."""
    dead, alive = await make_queue(), await make_queue()
    for i in range(3):
        await dead.enqueue(new(f"d{i}"), 60)
    assert len(await dead.lease(10, 0.3, now=time.time())) == 3
    assert await alive.lease(10, 0.3, now=time.time()) == []
    await asyncio.sleep(0.35)
    taken = await alive.lease(10, 0.3, now=time.time())
    assert sorted(d.dial_id for d in taken) == ["d0", "d1", "d2"]
    assert {d.attempts for d in taken} == {2}


async def test_poison_dial_is_dead_lettered(make_queue: MakeQueue) -> None:
    """A dial handed out more than max_deliveries times without an outcome is dead-lettered."""
    a = await make_queue(max_deliveries=2)
    b = await make_queue(max_deliveries=2)
    await a.enqueue(new("poison"), 60)
    assert len(await a.lease(1, 0.2, now=time.time())) == 1
    await asyncio.sleep(0.25)
    assert len(await b.lease(1, 0.2, now=time.time())) == 1  # second delivery
    await asyncio.sleep(0.25)
    with capture_logs() as logs:
        assert await a.lease(1, 0.2, now=time.time()) == []  # a third would exceed 2
    (dead,) = await a.list_dead()
    assert (dead.dial_id, dead.reason, dead.status) == ("poison", "poison", None)
    assert "3 times" in dead.response_body
    assert [e["dial_id"] for e in logs if e["event"] == "dial_poisoned"] == ["poison"]
    assert (await a.stats(now=time.time())).leased == 0


async def test_stream_keeps_every_unacknowledged_entry(make_queue: MakeQueue, prefix: str) -> None:
    """An entry leaves the stream only with its ack (or its move to the delayed set)."""
    q = await make_queue()
    for i in range(5):
        await q.enqueue(new(f"d{i}"), 60)
    leased = await q.lease(5, 30, now=time.time())
    await q.ack([leased[0].id, leased[1].id])
    await q.retry(leased[2].id, time.time() + 600, "http 500")
    with redis.Redis.from_url(REDIS_URL) as r:
        stream = "{" + prefix + "}:stream:0"
        assert r.xlen(stream) == 2
        assert r.xpending(stream, "relay")["pending"] == 2
        assert r.zcard("{" + prefix + "}:delayed") == 1


async def test_blocking_lease_returns_a_dial_stored_meanwhile(make_queue: MakeQueue) -> None:
    """An empty lease waits briefly on the stream and returns a dial another replica stores."""
    reader = await make_queue(block_seconds=5)
    writer = await make_queue()
    pending = asyncio.create_task(reader.lease(5, 30, now=time.time()))
    await asyncio.sleep(0.1)
    await writer.enqueue(new("late"), 60)
    assert [d.dial_id for d in await pending] == ["late"]


async def test_recovers_when_redis_loses_everything(make_queue: MakeQueue, prefix: str) -> None:
    """After the keys and the group vanish (restart without persistence), leasing just works."""
    q = await make_queue()
    await q.enqueue(new("before"), 60)
    (old,) = await q.lease(1, 30, now=time.time())
    drop_prefix(prefix)  # what FLUSHDB or an empty restart does to this queue
    await q.enqueue(new("after"), 60)
    got = []
    with capture_logs() as logs:
        for _ in range(3):
            got += await q.lease(5, 30, now=time.time())
    assert [d.dial_id for d in got] == ["after"]
    assert old.id != got[0].id  # ids are never reused after a flush
    await q.ack([old.id])  # a lease from before the flush acks nothing
    assert (await q.stats(now=time.time())).leased == 1
    events = {e["event"] for e in logs}
    assert {"redis_group_lost", "redis_group_recreated"} <= events


async def test_unreachable_redis_is_unavailable(make_queue: MakeQueue) -> None:
    """With nothing listening, open() still returns, ping is False and storing raises."""
    q = await make_queue(url=f"redis://127.0.0.1:{free_port()}/0")
    assert not await q.ping()
    with pytest.raises(QueueUnavailable):
        await q.enqueue(new("x"), 60)
    with pytest.raises(QueueUnavailable):
        await q.lease(5, 30, now=time.time())


async def test_full_redis_refuses_intake_but_drains(make_queue: MakeQueue, tmp_path: Path) -> None:
    """At maxmemory, storing is refused (503) but leasing and acking go on and free room again."""
    server = PrivateRedis(
        tmp_path / "full", "--maxmemory", "3mb", "--maxmemory-policy", "noeviction"
    )
    server.start()
    try:
        q = await make_queue(url=server.url)
        stored, refusal = 0, ""
        try:
            while stored < 100_000:
                await q.enqueue(new(f"d{stored}"), 3600)
                stored += 1
        except QueueUnavailable as full:
            refusal = str(full)
        assert "maxmemory" in refusal and stored > 0
        with pytest.raises(QueueUnavailable):
            await q.add_rejected(
                RejectedRecord("", "crm", time.time(), "POST", "application/json", {}, b"{}")
            )
        first = await q.lease(10, 30, now=time.time())
        await q.retry(first[0].id, time.time() + 3600, "http 503")
        await q.dead_letter(first[1].id, reason="http_400", status=400, response_body="", now=1.0)
        await q.ack([d.id for d in first[2:]])
        while leased := await q.lease(200, 30, now=time.time()):
            await q.ack([d.id for d in leased])
        stats = await q.stats(now=time.time())
        assert (stats.ready, stats.leased, stats.delayed, stats.dead) == (0, 0, 1, 1)
        assert await q.enqueue(new("room-again"), 3600)
    finally:
        server.kill()


async def test_tls_url_speaks_tls(make_queue: MakeQueue, tmp_path: Path) -> None:
    """rediss:// stores and leases over TLS, verifying the server against the given CA."""
    cert, key = self_signed_cert(tmp_path)
    tls = PrivateRedis(
        tmp_path / "tls",
        *("--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no"),
    )
    tls.start(port_flag="--tls-port")
    try:
        url = f"rediss://127.0.0.1:{tls.port}/0?ssl_ca_certs={cert}"
        q = await make_queue(url=url)
        assert await q.ping()
        assert await q.enqueue(new("tls"), 60)
        assert [d.dial_id for d in await q.lease(5, 30, now=time.time())] == ["tls"]
        await q.close()
    finally:
        tls.kill()


async def test_password_setting_is_used_and_never_shown(tmp_path: Path) -> None:
    """RELAY_REDIS_PASSWORD (or one in the URL) authenticates; it never shows in errors or repr."""
    server = PrivateRedis(tmp_path / "auth", "--requirepass", "hunter2-secret").start()
    try:
        anonymous = RedisStreamQueue(server.url, prefix="auth")
        await anonymous.open()
        with pytest.raises(QueueUnavailable) as refused:
            await anonymous.enqueue(new("x"), 60)
        await anonymous.close()
        assert "hunter2" not in str(refused.value)
        settings = Settings(queue_url=server.url, redis_password=SecretStr("hunter2-secret"))
        with_setting = create_queue(settings.queue_url, settings)
        in_url = RedisStreamQueue(server.url.replace("//", "//:hunter2-secret@"), prefix="auth")
        for q in (with_setting, in_url):
            await q.open()
            try:
                assert await q.ping()
                assert "hunter2" not in repr(q)
            finally:
                await q.close()
        assert ":***@" in repr(in_url)
    finally:
        server.kill()


def test_server_warnings() -> None:
    """An old Redis, an evicting policy, AOF off or appendfsync no warn; safe settings do not."""
    safe = {"redis_version": "7.0.15", "maxmemory_policy": "noeviction", "aof_enabled": 1}
    assert server_warnings(safe, {"appendfsync": "everysec"}) == []
    unsafe = {"redis_version": "6.0.9", "maxmemory_policy": "allkeys-lru", "aof_enabled": 0}
    assert [event for event, _ in server_warnings(unsafe, {b"appendfsync": b"no"})] == [
        "redis_version_unsupported",
        "redis_eviction_policy_unsafe",
        "redis_aof_disabled",
        "redis_appendfsync_unsafe",
    ]


async def test_start_up_checks_the_server(make_queue: MakeQueue) -> None:
    """A replica's first lease logs exactly the warnings the live server's settings call for."""
    with redis.Redis.from_url(REDIS_URL) as r:
        expected = server_warnings(r.info(), r.config_get("appendfsync"))
    with capture_logs() as logs:
        q = await make_queue(consumer="a pod name with spaces")
        assert [e for e in logs if e["log_level"] == "warning"] == []  # operator tools stay quiet
        await q.lease(1, 30, now=time.time())
        await q.lease(1, 30, now=time.time())
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [e for e, _ in expected]


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
