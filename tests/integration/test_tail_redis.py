"""``relay tail`` on a shared Redis queue: one tail on the Redis channel sees every replica."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BASIC_SOURCES, DEFAULT_KEY, dial_body
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayProcess
from tests.support.tail import ROOT, TailProcess

pytestmark = [pytest.mark.redis, pytest.mark.slow]

CRM = {"X-Relay-Token": "crm-hook-secret"}


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    with unique_prefix(tmp_path) as name:
        yield name


@pytest.fixture
def replicas(tmp_path: Path, fake: FakeOutboundIQ, prefix: str) -> Iterator[list[RelayProcess]]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(BASIC_SOURCES)
    started = [
        RelayProcess(
            {
                "RELAY_QUEUE_URL": REDIS_URL,
                "RELAY_SOURCES_FILE": str(sources),
                "RELAY_OUTBOUNDIQ_URL": fake.url,
                "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
                "RELAY_REDIS_KEY_PREFIX": prefix,
                "RELAY_REDIS_CONSUMER": name,
                "RELAY_SHUTDOWN_GRACE_SECONDS": "1",
            },
            cwd=ROOT,
            log_path=tmp_path / f"{name}.log",
        )
        for name in ("replica-a", "replica-b")
    ]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda r: r.start(), started))
    yield started
    for relay in started:
        if relay.proc is not None and relay.proc.poll() is None:
            relay.terminate()


def test_one_tail_on_redis_sees_every_replica(
    replicas: list[RelayProcess], fake: FakeOutboundIQ, prefix: str
) -> None:
    tail = TailProcess(
        ["--json"], {"RELAY_QUEUE_URL": REDIS_URL, "RELAY_REDIS_KEY_PREFIX": prefix}
    ).start()
    try:
        assert "following every replica on redis://127.0.0.1:6379/0" in tail.stderr()

        # Each replica looks for listeners about once a second, and either may lease any dial:
        # post until both replicas are seen queueing and delivering.
        def both(got: list[dict[str, Any]]) -> bool:
            return all(
                {e["replica"] for e in got if e["kind"] == kind} >= {"replica-a", "replica-b"}
                for kind in ("queued", "delivered")
            )

        numbers = itertools.count()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not both(tail.events()):
            for relay in replicas:
                body = dial_body(dial_id=f"r-{next(numbers)}")
                answer = httpx.post(f"{relay.url}/hooks/crm", json=body, headers=CRM, timeout=10)
                assert answer.status_code == 202
            time.sleep(0.3)
        events = tail.wait_for(both)
        assert {e["replica"] for e in events} == {"replica-a", "replica-b"}
        assert {e["source"] for e in events} == {"crm"}
        queued_event = next(e for e in events if e["kind"] == "queued")
        assert queued_event["payload"]["prospect_phone"] == "******0187"
        assert unmasked_test_phones("\n".join(tail.lines())) == []
        assert tail.interrupt() == 0
    finally:
        tail.kill()
