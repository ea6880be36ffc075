"""Several relays on one Redis: shared work, crashes, duplicates, Redis losing its data.

Replicas are separate processes where a process matters (``kill -9``, true parallelism), and
in-process servers (each with its own app, Redis client and consumer name) elsewhere.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.queue.base import QueueStats
from relay.queue.redis import RedisStreamQueue
from tests.conftest import BASIC_SOURCES, DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.redis import REDIS_URL, PrivateRedis, claimed_db, unique_prefix
from tests.support.relay_server import RelayProcess, RelayThread

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CRM = {"X-Relay-Token": "crm-hook-secret"}
StartReplicas = Callable[..., list[RelayProcess]]


def post(relay: RelayProcess | RelayThread, dial_id: str) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/hooks/crm", json=dial_body(dial_id=dial_id), headers=CRM, timeout=10
    )


def post_all(replicas: list[RelayProcess], ids: list[str]) -> list[int]:
    """Post each dial to the replicas in turn, several at a time; the status codes."""
    with ThreadPoolExecutor(6) as pool:
        return list(
            pool.map(
                lambda i: post(replicas[i % len(replicas)], ids[i]).status_code, range(len(ids))
            )
        )


def stats(url: str, prefix: str) -> QueueStats:
    async def run() -> QueueStats:
        queue = RedisStreamQueue(url, prefix=prefix, consumer="test-observer")
        await queue.open()
        try:
            return await queue.stats(now=time.time() + 10**6)
        finally:
            await queue.close()

    return asyncio.run(run())


def wait_drained(url: str, prefix: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = stats(url, prefix)
        if s.ready == s.delayed == s.leased == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"queue not drained: {stats(url, prefix)}")


def stop(replicas: list[RelayProcess]) -> None:
    for relay in replicas:
        if relay.proc is not None and relay.proc.poll() is None:
            relay.terminate(timeout=30)


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    with unique_prefix(tmp_path) as name:
        yield name


@pytest.fixture
def start_replicas(tmp_path: Path, fake: FakeOutboundIQ, prefix: str) -> Iterator[StartReplicas]:
    started: list[RelayProcess] = []
    sources = tmp_path / "sources.yaml"
    sources.write_text(BASIC_SOURCES)

    def factory(count: int, *, url: str = REDIS_URL, **env: str) -> list[RelayProcess]:
        replicas = []
        for _ in range(count):
            n = len(started)
            settings = {
                "RELAY_QUEUE_URL": url,
                "RELAY_SOURCES_FILE": str(sources),
                "RELAY_OUTBOUNDIQ_URL": fake.url,
                "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
                "RELAY_REDIS_KEY_PREFIX": prefix,
                "RELAY_REDIS_CONSUMER": f"replica-{n}",
                "RELAY_RETRY_BASE_SECONDS": "0.05",
                "RELAY_RETRY_CAP_SECONDS": "0.5",
                "RELAY_SHUTDOWN_GRACE_SECONDS": "1",
                **env,
            }
            relay = RelayProcess(settings, cwd=ROOT, log_path=tmp_path / f"replica-{n}.log")
            started.append(relay)
            replicas.append(relay)
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda r: r.start(), replicas))
        return replicas

    yield factory
    stop(started)


def test_three_replicas_deliver_each_dial_once(
    start_replicas: StartReplicas, fake: FakeOutboundIQ, prefix: str
) -> None:
    """Webhooks spread over three replicas reach outboundIQ exactly once per dial_id."""
    replicas = start_replicas(3)
    ids = [f"spread-{i}" for i in range(60)]
    assert post_all(replicas, ids) == [202] * len(ids)
    assert fake.wait_for(lambda: set(fake.accepted_ids()) >= set(ids), timeout=30)
    wait_drained(REDIS_URL, prefix)
    assert Counter(fake.accepted_ids()) == Counter(ids)
    assert sum("dial_forwarded" in r.logs() for r in replicas) >= 2  # the work was shared


def first_leases(r: redis.Redis, prefix: str, consumer: str, fresher_than_ms: int) -> set[str]:
    """The dial_ids ``consumer`` holds leases on that no one else ever had (pending entries of
    its in the group, delivered once), leased less than ``fresher_than_ms`` ago."""
    held = set()
    for lane in ("0", "1", "direct"):
        stream = "{" + prefix + "}:stream:" + lane
        for entry in r.xpending_range(stream, "relay", "-", "+", 1000, consumer):
            if entry["times_delivered"] != 1 or entry["time_since_delivered"] >= fresher_than_ms:
                continue
            for _id, fields in r.xrange(stream, entry["message_id"], entry["message_id"]):
                dial_id = r.hget("{" + prefix + "}:dial:" + fields[b"q"].decode(), "i")
                if dial_id is not None:
                    held.add(dial_id.decode())
    return held


def test_killed_replicas_dials_are_delivered_by_the_others(
    start_replicas: StartReplicas, fake: FakeOutboundIQ, prefix: str
) -> None:
    """After kill -9, the dials the dead replica had leased are delivered by the others."""
    # Deliveries take 3 s and leases expire after 5 s idle: a live replica's leases are never
    # taken over, a dead one's are. Only dials the victim alone ever leased count as "held":
    # a dial it took over from a live replica may be acked by that replica meanwhile.
    replicas = start_replicas(3, RELAY_VISIBILITY_TIMEOUT_SECONDS="5")
    victim = replicas[2]
    fake.default = Reply(200, delay=3.0)  # deliveries stay in flight (leased) for a while
    ids = [f"kill-{i}" for i in range(30)]
    assert post_all(replicas, ids) == [202] * len(ids)
    with redis.Redis.from_url(REDIS_URL) as r:
        # Leased under 2 s ago: nothing can take them over for 3 s more, so they are still
        # the victim's right after the kill (whatever the machine's load).
        assert fake.wait_for(lambda: first_leases(r, prefix, "replica-2", 2000), timeout=20)
        victim.kill()
        killed_at = time.time()
        held = first_leases(r, prefix, "replica-2", 10**9)  # what it died holding
        fake.default = Reply(200)
        assert held

        def redelivered() -> bool:
            after = {x.json()["dial_id"] for x in fake.accepted() if x.at > killed_at}
            return held <= after and set(ids) <= set(fake.accepted_ids())

        assert fake.wait_for(redelivered, timeout=60)
        wait_drained(REDIS_URL, prefix)
        for lane in ("0", "1", "direct"):  # the dead consumer holds nothing any more
            stream = "{" + prefix + "}:stream:" + lane
            assert r.xpending_range(stream, "relay", "-", "+", 10, "replica-2") == []


def test_same_webhook_on_two_replicas_is_accepted_once(
    prefix: str, start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """The same dial posted to two replicas at the same moment: one 202, one 200 duplicate."""
    a, b = (
        start_relay(queue_url=REDIS_URL, redis_key_prefix=prefix, redis_consumer=name)
        for name in ("a", "b")
    )
    ids = [f"twice-{n}" for n in range(5)]
    for dial_id in ids:
        barrier = threading.Barrier(2)

        def send(relay: RelayThread, dial_id: str = dial_id, barrier: Any = barrier) -> Any:
            barrier.wait()
            return post(relay, dial_id)

        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(send, [a, b]), key=lambda x: x.status_code)
        assert [x.status_code for x in answers] == [200, 202]
        assert answers[0].json() == {"status": "duplicate", "dial_id": dial_id}
    assert fake.wait_for(lambda: set(fake.accepted_ids()) >= set(ids), timeout=20)
    wait_drained(REDIS_URL, prefix)
    assert Counter(fake.accepted_ids()) == Counter(ids)


def test_relay_recovers_from_flushdb_under_load(
    make_settings: Callable[..., Settings],
    make_sources: Callable[..., dict[str, Source]],
    fake: FakeOutboundIQ,
) -> None:
    """Redis loses everything (FLUSHDB) while webhooks flow; the relays go on without a restart."""
    with claimed_db() as url:
        replicas = [
            RelayThread(
                make_settings(queue_url=url, redis_consumer=name), sources=make_sources()
            ).start()
            for name in ("a", "b")
        ]
        try:
            answers: list[tuple[str, int, bool]] = []
            flushed, done = threading.Event(), threading.Event()

            def poster(worker: int) -> None:
                i = 0
                while not done.is_set():
                    after = flushed.is_set()
                    dial_id = f"load-{worker}-{i}"
                    answers.append((dial_id, post(replicas[i % 2], dial_id).status_code, after))
                    i += 1

            threads = [threading.Thread(target=poster, args=(w,)) for w in range(2)]
            for t in threads:
                t.start()
            assert fake.wait_for(lambda: len(fake.accepted()) >= 20, timeout=20)
            with redis.Redis.from_url(url) as r:
                r.flushdb()
            flushed.set()
            fake.wait_for(lambda: sum(a for *_, a in answers) >= 40, timeout=20)
            done.set()
            for t in threads:
                t.join()
            after = [(d, code) for d, code, a in answers if a]
            assert len(after) >= 40
            assert {code for _, code in after} == {202}
            wanted = {d for d, _ in after}
            assert fake.wait_for(lambda: wanted <= set(fake.accepted_ids()), timeout=30)
            for relay in replicas:
                assert relay.runtime.worker is not None and not relay.runtime.worker.done()
                assert httpx.get(f"{relay.url}/readyz").status_code == 200
        finally:
            for relay in replicas:
                relay.stop()


def test_redis_outage_not_ready_503_then_recovers(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """While Redis is down: not ready, intake 503. Back (empty), it is used without a restart."""
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        relay = start_relay(queue_url=server.url)
        assert post(relay, "before").status_code == 202
        assert fake.wait_for(lambda: fake.accepted_ids() == ["before"])
        server.kill()
        ready = httpx.get(f"{relay.url}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["queue"] == "unavailable"
        assert post(relay, "during").status_code == 503
        server.start()  # same port, nothing in it
        assert fake.wait_for(
            lambda: httpx.get(f"{relay.url}/readyz").status_code == 200, timeout=20
        )
        assert post(relay, "after").status_code == 202
        assert fake.wait_for(lambda: fake.accepted_ids() == ["before", "after"], timeout=20)
    finally:
        server.kill()
