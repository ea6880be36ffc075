"""Redis: the connection: recovery, an unreachable or full Redis, TLS, passwords, and the
start-up checks of the server's settings."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr
from structlog.testing import capture_logs

from relay.config.settings import Settings
from relay.exceptions import QueueUnavailable
from relay.queue import create_queue
from relay.queue.base import RejectedRecord
from relay.queue.redis import RedisStreamQueue, server_warnings
from tests.support.fake_outboundiq import free_port
from tests.support.redis import REDIS_URL, PrivateRedis, drop_prefix, self_signed_cert
from tests.unit.queue.redis.support import MakeQueue, fill, new

pytestmark = [pytest.mark.anyio, pytest.mark.redis]


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


async def test_full_redis_refuses_intake_but_drains(
    make_queue: MakeQueue, full_redis: PrivateRedis
) -> None:
    """At maxmemory, storing is refused (503) but leasing and acking go on and free room again."""
    q = await make_queue(url=full_redis.url)
    await fill(q)
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


async def test_a_busy_pool_waits_for_a_connection(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """200 operations at once (more than the pool holds) all succeed: they wait their turn
    on at most RELAY_REDIS_MAX_CONNECTIONS connections instead of being refused."""
    q = await make_queue(url=private_redis.url, max_connections=8)
    with redis.Redis.from_url(private_redis.url) as r:
        before = int(r.info("stats")["total_connections_received"])
        answers = await asyncio.gather(*(q.stats(now=time.time()) for _ in range(200)))
        opened = int(r.info("stats")["total_connections_received"]) - before
    assert len(answers) == 200
    assert opened <= 8


async def test_no_free_connection_within_the_timeout_is_unavailable(
    make_queue: MakeQueue, private_redis: PrivateRedis
) -> None:
    """The only connection is busy (a blocking read) past the pool timeout: storing fails as
    unavailable (intake answers 503); once it is free, storing works."""
    q = await make_queue(
        url=private_redis.url, max_connections=1, pool_timeout=0.2, block_seconds=3
    )
    lease = asyncio.ensure_future(q.lease(1, 30, now=time.time()))
    with redis.Redis.from_url(private_redis.url) as r:
        while not lease.done() and int(r.info("clients")["blocked_clients"]) == 0:
            await asyncio.sleep(0.01)  # until the lease holds the connection, blocked in Redis
    with pytest.raises(QueueUnavailable, match="No connection available"):
        await q.enqueue(new("waits-too-long"), 60)
    assert await lease == []
    assert await q.enqueue(new("later"), 60)


def test_pool_settings_reach_the_queue() -> None:
    """RELAY_REDIS_MAX_CONNECTIONS and RELAY_REDIS_POOL_TIMEOUT_SECONDS size the pool."""
    settings = Settings(
        queue_url=REDIS_URL, redis_max_connections=7, redis_pool_timeout_seconds=1.5
    )
    q = create_queue(settings.queue_url, settings)
    assert isinstance(q, RedisStreamQueue)
    assert (q.max_connections, q.pool_timeout) == (7, 1.5)
    default = Settings(queue_url=REDIS_URL)
    assert (default.redis_max_connections, default.redis_pool_timeout_seconds) == (50, 5.0)
