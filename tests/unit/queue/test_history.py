"""Dial history (``DialHistory``): every backend records each dial's timeline as it goes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from relay.queue.base import Attempt, DialQueue, DialRecord, NewDial
from relay.queue.redis import RedisStreamQueue
from relay.queue.sqlite import SqliteQueue
from tests.support.redis import REDIS_URL, drop_prefix, prefix_for

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
MakeQueue = Callable[..., Awaitable[DialQueue]]


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeQueue]:
    """Opens queues of one backend on one store: ``await make(history=False)``."""
    opened: list[DialQueue] = []

    async def factory(*, history: bool = True) -> DialQueue:
        queue: DialQueue = (
            SqliteQueue(tmp_path / "history.db", history=history)
            if request.param == "sqlite"
            else RedisStreamQueue(
                REDIS_URL,
                prefix=prefix_for(tmp_path),
                consumer="history",
                block_seconds=0,
                history=history,
            )
        )
        await queue.open()
        opened.append(queue)
        return queue

    yield factory
    for queue in opened:
        await queue.close()
    if request.param == "redis":
        drop_prefix(prefix_for(tmp_path))


@pytest.fixture
async def queue(make: MakeQueue) -> DialQueue:
    return await make()


def wire(dial_id: str, phone: str = "5125550187") -> bytes:
    return orjson.dumps({"dial_id": dial_id, "prospect_phone": phone, "ani": "5125550100"})


def new(dial_id: str, source: str = "crm", at: float = T0, phone: str = "5125550187") -> NewDial:
    return NewDial(source=source, dial_id=dial_id, payload=wire(dial_id, phone), received_at=at)


def kinds(record: DialRecord) -> list[str]:
    return [e.kind for e in record.events]


async def only(queue: DialQueue, dial_id: str) -> DialRecord:
    (record,) = await queue.dial_history(dial_id)
    return record


async def test_a_dial_delivered_after_a_503_shows_both_attempts(queue: DialQueue) -> None:
    """Received, the 503 with its answer and the wait, the 200, delivered; the payload stays."""
    await queue.enqueue(new("a"), 60)
    queued = await only(queue, "a")
    assert (queued.state, queued.phone_last4, queued.payload) == ("queued", "0187", wire("a"))
    (first,) = await queue.lease(1, 30, now=T0)
    failed = Attempt(T0 + 1, 1, 503, '{"error":"busy"}', 0.25)
    await queue.retry(first.id, T0 + 5, "http 503", attempt=failed)
    (second,) = await queue.lease(1, 30, now=T0 + 5)
    await queue.ack([second.id], attempts={second.id: Attempt(T0 + 6, 2, 200, "", 0.03)})

    record = await only(queue, "a")
    assert kinds(record) == ["received", "attempt", "waiting", "attempt", "delivered"]
    received, attempt, waiting, ok, delivered = record.events
    assert (received.at, received.lane, received.reason) == (T0, 0, "dial")
    assert (attempt.attempt, attempt.status, attempt.answer, attempt.seconds) == (
        1,
        503,
        '{"error":"busy"}',
        0.25,
    )
    assert (waiting.at, waiting.due_at) == (T0 + 1, T0 + 5)
    assert (ok.attempt, ok.status, delivered.at) == (2, 200, T0 + 6)
    assert (record.id, record.source, record.state) == (first.id, "crm", "delivered")
    assert (record.settled_at, record.received_at, record.dead_id) == (T0 + 6, T0, None)
    assert record.payload == wire("a")  # the dial as sent, after its queue row went


async def test_a_dead_letter_shows_its_reason_then_the_replay(queue: DialQueue) -> None:
    """Dead-lettered with outboundIQ's answer; replayed, it keeps its record and queue id."""
    await queue.enqueue(new("b"), 60)
    (leased,) = await queue.lease(1, 30, now=T0)
    await queue.dead_letter(
        leased.id,
        reason="http_400",
        status=400,
        response_body='{"error":"campaign unknown"}',
        now=T0 + 1,
        attempt=Attempt(T0 + 1, 1, 400, '{"error":"campaign unknown"}', 0.1),
    )
    (dead,) = await queue.list_dead()
    record = await only(queue, "b")
    assert (record.state, record.dead_id, record.payload) == ("dead", dead.id, wire("b"))
    assert kinds(record) == ["received", "attempt", "dead_lettered"]
    assert (record.events[2].reason, record.events[2].status) == ("http_400", 400)

    assert await queue.replay_dead([dead.id], now=T0 + 10) == 1
    (again,) = await queue.lease(1, 30, now=T0 + 10)
    assert again.id == leased.id  # one timeline
    await queue.ack([again.id], attempts={again.id: Attempt(T0 + 11, 1, 200)})
    record = await only(queue, "b")
    assert kinds(record) == [
        "received",
        "attempt",
        "dead_lettered",
        "replayed",
        "attempt",
        "delivered",
    ]
    assert (record.state, record.dead_id, record.events[3].at) == ("delivered", None, T0 + 10)


async def test_a_purged_dead_letter_keeps_its_timeline_not_its_payload(queue: DialQueue) -> None:
    """Purged from the dead-letter store: settled then, with no payload left anywhere."""
    await queue.enqueue(new("c"), 60)
    (leased,) = await queue.lease(1, 30, now=T0)
    await queue.dead_letter(
        leased.id, reason="max_age_exceeded", status=None, response_body="", now=T0
    )
    (dead,) = await queue.list_dead()
    assert await queue.purge_dead([dead.id]) == 1
    record = await only(queue, "c")
    assert (record.state, record.payload, record.dead_id) == ("purged", None, None)
    assert kinds(record) == ["received", "dead_lettered", "purged"]
    assert record.events[1].reason == "max_age_exceeded"


async def test_steps_without_a_post_are_recorded_too(queue: DialQueue) -> None:
    """A wait without a POST names its reason; a resolved job records it and its number."""
    await queue.enqueue(
        NewDial("crm", "job-1", b'{"conversation":"x"}', T0, kind="genesys_conversation"), 60
    )
    assert (await only(queue, "job-1")).phone_last4 == ""
    (job,) = await queue.lease(1, 30, now=T0)
    await queue.retry(job.id, T0 + 60, "no_api_key")
    (job,) = await queue.lease(1, 30, now=T0 + 60)
    await queue.replace_payload(job.id, wire("job-1", "3125550142"))
    await queue.ack([job.id])  # dry-run: delivered without a POST
    record = await only(queue, "job-1")
    assert kinds(record) == ["received", "waiting", "resolved", "delivered"]
    assert (record.events[0].reason, record.events[1].reason) == (
        "genesys_conversation",
        "no_api_key",
    )
    assert (record.phone_last4, record.payload) == ("0142", wire("job-1", "3125550142"))


async def test_legs_merged_into_a_held_dial_are_recorded(queue: DialQueue) -> None:
    """Each later leg of a call merged into the held first leg is one ``coalesced`` event."""

    def merge(stored: bytes, leg: bytes) -> bytes:
        return leg

    assert await queue.coalesce(new("call"), 60, window=100, merge=merge) == "queued"
    leg = new("call", at=T0 + 5, phone="5125550199")
    assert await queue.coalesce(leg, 60, window=100, merge=merge) == "coalesced"
    record = await only(queue, "call")
    assert kinds(record) == ["received", "coalesced"]
    assert (record.events[1].at, record.payload) == (T0 + 5, wire("call", "5125550199"))


async def test_a_batch_stored_in_one_commit_starts_each_history(queue: DialQueue) -> None:
    """``enqueue_many`` starts a record for each dial it stores, none for a repeat."""
    batch = [new("m1"), new("m2", phone="3125550142"), new("m1", at=T0 + 1)]
    assert await queue.enqueue_many(batch, 60) == [True, True, False]
    records = {r.dial_id: r for r in await queue.list_history()}
    assert sorted(records) == ["m1", "m2"]
    assert [kinds(r) for r in records.values()] == [["received"], ["received"]]
    assert (records["m1"].received_at, records["m2"].phone_last4) == (T0, "0142")


async def test_the_same_dial_id_in_two_sources(queue: DialQueue) -> None:
    """Every record of a dial_id comes back, or only the named source's."""
    await queue.enqueue(new("d", source="crm"), 60)
    await queue.enqueue(new("d", source="other", at=T0 + 1), 60)
    assert [r.source for r in await queue.dial_history("d")] == ["crm", "other"]
    assert [r.source for r in await queue.dial_history("d", source="other")] == ["other"]
    assert await queue.dial_history("d", source="nope") == []
    assert await queue.dial_history("nope") == []


async def test_list_by_source_time_and_last_digits(queue: DialQueue) -> None:
    """Newest first, within [since, until), of a source, ending in four digits; no payload."""
    for i, (source, phone) in enumerate(
        [
            ("crm", "5125550187"),
            ("other", "5125550187"),
            ("crm", "5125550100"),
            ("crm", "5125550187"),
        ]
    ):
        await queue.enqueue(new(f"l{i}", source=source, at=T0 + i, phone=phone), 60)
    assert [r.dial_id for r in await queue.list_history()] == ["l3", "l2", "l1", "l0"]
    assert [r.dial_id for r in await queue.list_history(limit=2)] == ["l3", "l2"]
    assert [r.dial_id for r in await queue.list_history(source="crm")] == ["l3", "l2", "l0"]
    by_number = await queue.list_history(phone_last4="0187")
    assert [r.dial_id for r in by_number] == ["l3", "l1", "l0"]
    window = await queue.list_history(since=T0 + 1, until=T0 + 3)
    assert [r.dial_id for r in window] == ["l2", "l1"]
    assert {r.payload for r in window} == {None}
    assert [e.kind for e in window[0].events] == ["received"]


async def test_trim_drops_settled_history_only(queue: DialQueue) -> None:
    """What settled before the cut goes; a queued dial and a dead letter keep theirs."""
    for name in ("old", "new", "dead", "waiting"):
        await queue.enqueue(new(name), 60)
    leased = {d.dial_id: d for d in await queue.lease(10, 30, now=T0)}
    await queue.ack([leased["old"].id], attempts={leased["old"].id: Attempt(T0 + 10, 1, 200)})
    await queue.ack([leased["new"].id], attempts={leased["new"].id: Attempt(T0 + 100, 1, 200)})
    await queue.dead_letter(
        leased["dead"].id, reason="http_400", status=400, response_body="", now=T0
    )
    assert await queue.trim_history(before=T0 + 50) == 1
    assert await queue.trim_history(before=T0 + 50) == 0
    assert await queue.dial_history("old") == []
    left = {r.dial_id: r.state for r in await queue.list_history()}
    assert left == {"new": "delivered", "dead": "dead", "waiting": "queued"}


async def test_history_off_stores_nothing(make: MakeQueue) -> None:
    """With history off no record is started, and the queue works as before."""
    queue = await make(history=False)
    await queue.enqueue(new("quiet"), 60)
    (leased,) = await queue.lease(1, 30, now=T0)
    await queue.retry(leased.id, T0, "http 503", attempt=Attempt(T0, 1, 503))
    (leased,) = await queue.lease(1, 30, now=T0)
    await queue.ack([leased.id], attempts={leased.id: Attempt(T0, 2, 200)})
    assert await queue.dial_history("quiet") == []
    assert await queue.list_history() == []
    assert await queue.lease(1, 30, now=T0 + 100) == []


async def test_a_record_started_follows_its_dial_when_history_is_turned_off(
    make: MakeQueue,
) -> None:
    """A dial stored while history was on is recorded to the end by a relay with it off."""
    await (await make()).enqueue(new("before"), 60)
    off = await make(history=False)
    (leased,) = await off.lease(1, 30, now=T0)
    await off.ack([leased.id], attempts={leased.id: Attempt(T0 + 1, 1, 200)})
    assert kinds(await only(off, "before")) == ["received", "attempt", "delivered"]
    assert await off.trim_history(before=T0 + 2) == 1
