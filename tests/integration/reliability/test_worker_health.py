"""A forwarder that stops or stalls is visible: /readyz goes not-ready, metrics show it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.queue.base import LeasedDial
from relay.queue.sqlite import SqliteQueue
from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


class ScriptedLeaseQueue(SqliteQueue):
    """The real SQLite queue, whose ``lease`` the test can make hang, or fail once."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.hanging = False
        self.failures_left = 0

    async def lease(self, *args: Any, **kwargs: Any) -> list[LeasedDial]:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("boom")
        if self.hanging:
            await asyncio.Event().wait()  # never set: stuck until cancelled
        return await super().lease(*args, **kwargs)


@pytest.fixture
def start_scripted_relay(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    make_sources: Callable[..., dict[str, Source]],
) -> Iterator[Callable[..., tuple[RelayThread, ScriptedLeaseQueue]]]:
    """The relay in a thread (like ``start_relay``) on a ``ScriptedLeaseQueue``."""
    started: list[RelayThread] = []

    def factory(**overrides: object) -> tuple[RelayThread, ScriptedLeaseQueue]:
        queue = ScriptedLeaseQueue(tmp_path / "scripted.db")
        relay = RelayThread(make_settings(**overrides), sources=make_sources(), queue=queue)
        started.append(relay.start())
        return relay, queue

    yield factory
    for relay in started:
        relay.stop()


def test_dead_worker_flips_readiness(start_relay: Callable[..., RelayThread]) -> None:
    """When the forwarder task is gone, /readyz answers 503 naming the worker."""
    relay = start_relay()
    assert httpx.get(f"{relay.url}/readyz").status_code == 200
    worker = relay.runtime.worker
    assert worker is not None and relay.loop is not None
    relay.loop.call_soon_threadsafe(worker.cancel)
    assert relay.runtime.forwarder is not None
    deadline = time.monotonic() + 5
    while not worker.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    r = httpx.get(f"{relay.url}/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["worker"] == "not running"


def test_stalled_worker_with_work_due_flips_readiness(
    start_scripted_relay: Callable[..., tuple[RelayThread, ScriptedLeaseQueue]],
    fake: FakeOutboundIQ,
) -> None:
    """A forwarder stuck while dials are due turns /readyz 503 after the stall threshold."""
    # 3 s: room for a loaded machine between the hang and the first check ("not yet").
    relay, queue = start_scripted_relay(worker_stall_seconds=3.0)
    assert relay.runtime.forwarder is not None
    queue.hanging = True  # the forwarder's next lease never returns
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202
    assert httpx.get(f"{relay.url}/readyz").status_code == 200  # not yet: below the threshold
    assert fake.wait_for(lambda: httpx.get(f"{relay.url}/readyz").status_code == 503, timeout=15)
    body = httpx.get(f"{relay.url}/readyz").json()
    assert body["checks"]["worker"].startswith("stalled")
    metrics = httpx.get(f"{relay.url}/metrics").text
    (line,) = [
        x for x in metrics.splitlines() if x.startswith("relay_worker_heartbeat_age_seconds ")
    ]
    age = float(line.split()[1])
    assert age >= 3.0
    assert fake.requests == []


def test_crashing_worker_is_restarted(
    start_scripted_relay: Callable[..., tuple[RelayThread, ScriptedLeaseQueue]],
    fake: FakeOutboundIQ,
) -> None:
    """An exception in the forwarder loop is logged, counted, and the loop starts again."""
    relay, queue = start_scripted_relay()
    forwarder = relay.runtime.forwarder
    assert forwarder is not None and relay.loop is not None
    queue.failures_left = 1  # the forwarder's next lease raises
    relay.loop.call_soon_threadsafe(forwarder.wake)
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202
    assert len(fake.wait_accepted(1, timeout=10)) == 1
    assert "relay_worker_restarts_total 1.0" in httpx.get(f"{relay.url}/metrics").text


def test_stop_signal_turns_readiness_false_first(start_relay: Callable[..., RelayThread]) -> None:
    """The first SIGTERM marks the relay stopping, and /readyz answers 503 from then on."""
    import signal

    from relay.intake.server import build_server

    relay = start_relay()
    server = build_server(relay.app, relay.settings)
    assert httpx.get(f"{relay.url}/readyz").status_code == 200
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
    r = httpx.get(f"{relay.url}/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["worker"] == "shutting down"
