"""A forwarder that stops or stalls is visible: /readyz goes not-ready, metrics show it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


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
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A forwarder stuck while dials are due turns /readyz 503 after the stall threshold."""
    relay = start_relay(worker_stall_seconds=1.0)
    forwarder = relay.runtime.forwarder
    assert forwarder is not None
    stuck = asyncio.Event()

    async def hang(*_args: Any, **_kwargs: Any) -> list[Any]:
        await stuck.wait()
        return []

    forwarder._next_batch = hang  # type: ignore[method-assign]
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202
    assert httpx.get(f"{relay.url}/readyz").status_code == 200  # not yet: below the threshold
    assert fake.wait_for(lambda: httpx.get(f"{relay.url}/readyz").status_code == 503, timeout=6)
    body = httpx.get(f"{relay.url}/readyz").json()
    assert body["checks"]["worker"].startswith("stalled")
    metrics = httpx.get(f"{relay.url}/metrics").text
    (line,) = [
        x for x in metrics.splitlines() if x.startswith("relay_worker_heartbeat_age_seconds ")
    ]
    age = float(line.split()[1])
    assert age >= 1.0
    assert fake.requests == []


def test_crashing_worker_is_restarted(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """An exception in the forwarder loop is logged, counted, and the loop starts again."""
    relay = start_relay()
    forwarder = relay.runtime.forwarder
    assert forwarder is not None
    original = forwarder._next_batch
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return await original(*args, **kwargs)

    forwarder._next_batch = flaky  # type: ignore[method-assign]
    forwarder.wake()
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
