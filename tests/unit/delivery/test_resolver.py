"""Mapping jobs become dials, or are retried, held or dead-lettered: nothing is lost."""

from __future__ import annotations

import dataclasses

import pytest
from structlog.testing import capture_logs

from relay.core.mapping import InboundRequest, MappingContext, MappingResult, PendingJob
from relay.delivery.holds import vendor_hold
from relay.delivery.resolver import Resolver
from relay.exceptions import MappingError, Problem, ResolveAuthError, ResolveError
from relay.queue.base import LeasedDial, NewDial
from tests.conftest import dial_body
from tests.support.delivery import Bench

pytestmark = pytest.mark.anyio


class ScriptedMapping:
    """A resolving mapping that answers what the test scripted (a result or an exception)."""

    resolve_timeout = 3600.0

    def __init__(self) -> None:
        self.answer: MappingResult | Exception = MappingResult(fields=dial_body())
        self.jobs: list[PendingJob] = []

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        raise NotImplementedError

    async def resolve(self, job: PendingJob, context: MappingContext) -> MappingResult:
        self.jobs.append(job)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def aclose(self) -> None:
        pass


@pytest.fixture
def mapping(bench: Bench) -> ScriptedMapping:
    scripted = ScriptedMapping()
    bench.sources["crm"] = dataclasses.replace(bench.sources["crm"], mapping=scripted)
    return scripted


@pytest.fixture
def resolver(bench: Bench) -> Resolver:
    return Resolver(
        outcomes=bench.outcomes, queue=bench.queue, sources=lambda: bench.sources, clock=bench.clock
    )


async def _job(bench: Bench, source: str = "crm", key: str = "conv-1", **kw: float) -> LeasedDial:
    received = kw.get("received_at", bench.clock.now)
    await bench.queue.enqueue(NewDial(source, key, b'{"id":"c"}', received, kind="conv"), 3600)
    (job,) = await bench.queue.lease(1, 60, now=bench.clock.now, only_sources={source})
    return job


def _retried(bench: Bench, reason: str) -> float | None:
    return bench.sample("relay_dials_retried_total", source="crm", reason=reason)


async def test_a_resolved_job_is_a_dial_from_now_on(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    job = await _job(bench)
    with capture_logs() as logs:
        dial = await resolver.resolve(job)
    assert dial is not None and dial.kind == "dial" and dial.id == job.id
    assert b"5125550187" in dial.payload  # normalized by the relay
    assert mapping.jobs == [PendingJob("conv", "conv-1", b'{"id":"c"}', job.received_at, 1)]
    await bench.queue.retry(job.id, bench.clock.now, "again")  # a later lease: no resolving
    (again,) = await bench.queue.lease(1, 60, now=bench.clock.now)
    assert (again.kind, again.payload) == ("dial", dial.payload)
    assert [e["event"] for e in logs] == ["job_resolved"]


async def test_refused_credentials_hold_the_source(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = ResolveAuthError("401 from the vendor", reason="http_401")
    job = await _job(bench)
    await bench.enqueue("crm", "waiting")
    with capture_logs() as logs:
        assert await resolver.resolve(job) is None
    assert bench.holds.hold_until("crm") == bench.clock.now + 60
    assert bench.holds[vendor_hold("crm")].sources == {"crm"}
    assert await bench.due("crm", bench.clock.now + 59) == []
    assert await bench.due("crm", bench.clock.now + 60) == ["conv-1", "waiting"]
    assert _retried(bench, "resolve_credentials_held") == 1
    assert [(e["event"], e["probe_in"]) for e in logs] == [("vendor_credentials_refused", 60)]


async def test_a_resolved_probe_releases_the_hold(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = ResolveAuthError("401", reason="http_401")
    await resolver.resolve(await _job(bench, key="probe"))
    await bench.enqueue("crm", "waiting")
    await bench.queue.delay_sources({"crm"}, bench.clock.now + 60)
    bench.clock.now += 60
    mapping.answer = MappingResult(fields=dial_body())
    (probe,) = await bench.queue.lease(1, 60, now=bench.clock.now, only_sources={"crm"})
    with capture_logs() as logs:
        assert await resolver.resolve(probe) is not None
    assert not bench.holds
    assert await bench.due("crm", bench.clock.now) == ["waiting"]
    assert [e["event"] for e in logs] == ["job_resolved", "vendor_credentials_resumed"]
    assert bench.wakes == 1


async def test_a_vendor_failure_is_retried_honouring_its_hint(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = ResolveError("slow down", reason="http_429", retry_after=40.0)
    with capture_logs() as logs:
        assert await resolver.resolve(await _job(bench)) is None
    assert await bench.queue.next_due() == bench.clock.now + 40
    assert _retried(bench, "resolve_http_429") == 1
    assert bench.wakes == 1
    assert [(e["event"], e["reason"], e["retry_in"]) for e in logs] == [
        ("job_retry_scheduled", "http_429", 40.0)
    ]


async def test_a_crashing_mapping_is_retried(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = RuntimeError("bug")
    with capture_logs() as logs:
        assert await resolver.resolve(await _job(bench)) is None
    due = await bench.queue.next_due()
    assert due is not None and bench.clock.now <= due <= bench.clock.now + 1
    assert _retried(bench, "resolve_crashed") == 1
    assert [e["event"] for e in logs] == ["job_resolve_crashed", "job_retry_scheduled"]
    # the jittered backoff is logged to the millisecond, as a dial's retry is (outcomes)
    retry_in = logs[1]["retry_in"]
    assert 0 < retry_in <= 1 and retry_in == round(retry_in, 3)
    assert abs(bench.clock.now + retry_in - due) < 0.001


async def test_a_job_failing_past_its_timeout_is_dead_lettered(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = ResolveError("still nothing", reason="not_ready")
    job = await _job(bench, received_at=bench.clock.now - mapping.resolve_timeout)
    with capture_logs() as logs:
        assert await resolver.resolve(job) is None
    (dead,) = await bench.queue.list_dead()
    assert (dead.reason, dead.status, dead.response_body) == (
        "resolve_timeout",
        None,
        "not_ready: still nothing",
    )
    assert [e["event"] for e in logs] == ["job_dead_lettered"]


async def test_an_unmappable_job_is_dead_lettered(
    bench: Bench, mapping: ScriptedMapping, resolver: Resolver
) -> None:
    mapping.answer = MappingError([Problem("prospect_phone", "missing")])
    assert await resolver.resolve(await _job(bench)) is None
    (dead,) = await bench.queue.list_dead()
    assert (dead.reason, dead.response_body) == ("resolve_unmappable", "prospect_phone: missing")
    assert (
        bench.sample("relay_dials_dead_lettered_total", source="crm", reason="resolve_unmappable")
        == 1
    )


@pytest.mark.parametrize(
    ("source", "reason"), [("gone", "unknown_source"), ("other", "mapping_cannot_resolve")]
)
async def test_a_job_nobody_can_resolve_waits_a_probe_period(
    bench: Bench, resolver: Resolver, source: str, reason: str
) -> None:
    job = await _job(bench, source=source)
    with capture_logs() as logs:
        assert await resolver.resolve(job) is None
    assert await bench.queue.next_due() == bench.clock.now + 60
    assert bench.sample("relay_dials_retried_total", source=source, reason=reason) == 1
    assert [(e["event"], e["reason"]) for e in logs] == [("job_unresolvable", reason)]
