"""The forwarder's loop: lease, deliver, wake up, pause for holds and the circuit, stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from relay.config.settings import Settings
from relay.core.sources import Source
from relay.delivery.client import create_client
from relay.delivery.worker import Forwarder
from relay.obs.metrics import RelayMetrics
from relay.queue.base import NewDial
from relay.queue.sqlite import SqliteQueue
from tests.conftest import DEFAULT_KEY
from tests.support.delivery import SOURCES
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply


def test_new_dials_do_not_wake_the_loop_while_the_circuit_is_open(tmp_path: Path) -> None:
    """While outboundIQ is down, a webhook does not wake the forwarder (it would find nothing
    it may send); once the circuit closes, it does. Other wake-ups always go through."""

    def forwarder() -> Forwarder:
        return Forwarder(
            queue=SqliteQueue(tmp_path / "q.db"),
            sources={},
            settings=Settings(),
            client=create_client(Settings()),
            metrics=RelayMetrics(),
        )

    closed = forwarder()
    assert not closed.wake_pending
    closed.queued()
    assert closed.wake_pending
    down = forwarder()
    for _ in range(down.circuit.threshold):
        down.circuit.record(503, now=time.time())
    assert down.circuit_open
    down.queued()
    assert not down.wake_pending
    down.wake()
    assert down.wake_pending
    down.circuit.record(200, now=time.time())
    assert not down.circuit_open


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(
    tmp_path: Path, fake: FakeOutboundIQ, sources: dict[str, Source], **overrides: float
) -> AsyncIterator[Forwarder]:
    """A forwarder running on its own SQLite queue against the fake outboundIQ."""
    values: dict[str, float | str] = {
        "outboundiq_url": fake.url,
        "retry_base_seconds": 0.05,
        "retry_cap_seconds": 0.2,
        "key_probe_seconds": 0.3,
    }
    settings = Settings(**{**values, **overrides})
    queue = SqliteQueue(tmp_path / "q.db")
    await queue.open()
    async with create_client(settings) as client:
        fw = Forwarder(
            queue=queue, sources=sources, settings=settings, client=client, metrics=RelayMetrics()
        )
        loop = asyncio.create_task(fw.run())
        try:
            yield fw
        finally:
            await fw.stop(settings.shutdown_grace_seconds)
            await asyncio.wait_for(loop, 5)
            await queue.close()


async def _enqueue(fw: Forwarder, source: str, dial_id: str) -> None:
    payload = f'{{"dial_id":"{dial_id}"}}'.encode()
    await fw.queue.enqueue(NewDial(source, dial_id, payload, received_at=time.time()), 3600)
    fw.queued()


@pytest.mark.anyio
async def test_the_loop_delivers_what_is_queued(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    async with running(tmp_path, fake, make_sources(SOURCES)) as fw:
        for i in range(10):
            await _enqueue(fw, "crm" if i % 2 else "other", f"d-{i}")
        await _until(lambda: fw.state.delivered == 10)
        assert fw.state.in_flight == 0
        assert sorted(r.json()["dial_id"] for r in fake.requests) == [f"d-{i}" for i in range(10)]


async def _stats(tmp_path: Path) -> tuple[int, int, int]:
    """(ready, leased, dead) in the forwarder's queue file, read by a second connection."""
    queue = SqliteQueue(tmp_path / "q.db")
    await queue.open()
    try:
        stats = await queue.stats(now=time.time())
        return stats.ready, stats.leased, stats.dead
    finally:
        await queue.close()


@pytest.mark.anyio
async def test_leased_dials_wait_in_line_for_a_slot(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    """With every slot busy the forwarder holds the next half of its concurrency leased and
    waiting, so a freed slot starts a dial without waiting for a lease; no more than that."""
    fake.default = Reply(200, delay=0.5)
    async with running(tmp_path, fake, make_sources(SOURCES), forward_concurrency=4) as fw:
        for i in range(10):
            await _enqueue(fw, "crm", f"d-{i}")
        await _until(lambda: len(fake.requests) == 4 and len(fw._waiting) == 2)
        assert await _stats(tmp_path) == (4, 6, 0)  # 4 posting and 2 waiting: leased
        await _until(lambda: fw.state.delivered == 10)
        assert len(fw._waiting) == 0
    assert sorted(r.json()["dial_id"] for r in fake.requests) == [f"d-{i}" for i in range(10)]


@pytest.mark.anyio
async def test_a_probe_never_waits_in_line_behind_busy_slots(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    """The circuit's probe starts when it is leased, even with every slot busy: in the
    waiting line it would be handed back while the circuit is open, and the circuit would
    wait for a probe that never runs. It is sent once a connection frees, and closes it."""
    for slow in ("slow-1", "slow-2"):
        fake.fail_dial(slow, Reply(200, delay=2.0))
    sources = make_sources(SOURCES)
    async with running(
        tmp_path, fake, sources, forward_concurrency=2, circuit_probe_seconds=0.1
    ) as fw:
        for slow in ("slow-1", "slow-2"):
            await _enqueue(fw, "crm", slow)
        await _until(lambda: len(fake.requests) == 2)  # both slots busy for 2 s
        for _ in range(fw.circuit.threshold):
            fw.circuit.record(503, now=time.time())
        await _enqueue(fw, "crm", "probe")
        fw.wake()
        await _until(lambda: fw.circuit.probe_id is not None)
        await asyncio.sleep(0.3)  # loop turns in which the open circuit would hand it back
        assert not fw._waiting
        assert await _stats(tmp_path) == (0, 3, 0)  # two slow dials and the probe: leased
        await _until(lambda: not fw.circuit_open)
        await _until(lambda: fw.state.delivered == 3)
    assert [r.json()["dial_id"] for r in fake.requests].count("probe") == 1


@pytest.mark.anyio
async def test_stop_releases_the_dials_waiting_in_line(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    """A shutdown starts none of the waiting dials: they go back to the queue, due now."""
    fake.default = Reply(200, delay=3.0)
    sources = make_sources(SOURCES)
    async with running(
        tmp_path, fake, sources, forward_concurrency=2, shutdown_grace_seconds=0.2
    ) as fw:
        for i in range(5):
            await _enqueue(fw, "crm", f"d-{i}")
        await _until(lambda: len(fake.requests) == 2 and len(fw._waiting) == 1)
    assert len(fake.requests) == 2
    assert await _stats(tmp_path) == (5, 0, 0)


@pytest.mark.anyio
async def test_stop_releases_what_did_not_finish(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    """Past the grace period an unfinished delivery is cancelled and its dial is due again."""
    fake.default = Reply(200, delay=3.0)
    async with running(tmp_path, fake, make_sources(SOURCES), shutdown_grace_seconds=0.2) as fw:
        await _enqueue(fw, "crm", "slow")
        await _until(lambda: len(fake.requests) == 1)
    assert await _stats(tmp_path) == (1, 0, 0)


@pytest.mark.anyio
async def test_a_hold_with_nothing_to_probe_with_is_dropped(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    async with running(tmp_path, fake, make_sources(SOURCES)) as fw:
        fw.holds.hold("k", frozenset({"crm"}), status=401, until=time.time())
        fw.wake()
        await _until(lambda: not fw.holds)


@pytest.mark.anyio
async def test_a_held_key_sends_one_probe_a_period_and_a_success_resumes_all(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    """crm and shop share the refused key: one probe each period, other goes on meanwhile."""
    fake.set_key_status(DEFAULT_KEY, 401)
    async with running(tmp_path, fake, make_sources(SOURCES)) as fw:
        await _enqueue(fw, "crm", "c-1")
        await _until(lambda: bool(fw.holds))
        held_at = time.monotonic()
        assert fw.held_sources() == {"crm", "shop"}
        assert fw.hold_until("shop") is not None and fw.hold_until("other") is None
        for i in range(3):
            await _enqueue(fw, "shop", f"s-{i}")
        await _enqueue(fw, "other", "o-1")
        await _until(lambda: fw.state.delivered == 1)  # other is not held
        await asyncio.sleep(0.5)
        refused = [r for r in fake.requests if r.status == 401]
        periods = (time.monotonic() - held_at) / 0.3
        assert 2 <= len(refused) <= 2 + periods  # the first refusal, then a probe a period
        fake.set_key_status(DEFAULT_KEY, None)
        await _until(lambda: fw.state.delivered == 5)
        assert not fw.holds and fw.held_sources() == frozenset()


@pytest.mark.anyio
async def test_a_reload_lifts_every_hold(
    tmp_path: Path, fake: FakeOutboundIQ, make_sources: Callable[..., dict[str, Source]]
) -> None:
    fake.set_key_status(DEFAULT_KEY, 401)
    async with running(tmp_path, fake, make_sources(SOURCES), key_probe_seconds=60) as fw:
        await _enqueue(fw, "crm", "c-1")
        await _until(lambda: bool(fw.holds))
        await _until(lambda: fw.state.in_flight == 0)
        await _enqueue(fw, "shop", "s-1")  # held with crm: not sent
        fake.set_key_status(DEFAULT_KEY, None)
        fw.update_sources(make_sources(SOURCES))
        assert not fw.holds
        await _until(lambda: fw.state.delivered == 2)
