"""The cluster feed's parser: a channel line back into the event a replica sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import orjson
from hypothesis import given
from hypothesis import strategies as st

from relay.obs.cluster import ClusterFeed, parse_line
from relay.obs.events import KINDS, Missed, RelayEvent

texts = st.text(max_size=40)
maybe_int = st.none() | st.integers(min_value=0, max_value=10**6)
payloads = st.none() | st.dictionaries(
    st.sampled_from(["dial_id", "prospect_phone", "ani", "note"]),
    st.text(alphabet="0123456789 -()+abc", max_size=20),
    max_size=4,
)


@given(
    kind=st.sampled_from(KINDS),
    source=texts,
    dial_id=st.none() | texts,
    status=maybe_int,
    attempt=maybe_int,
    reason=st.none() | texts,
    payload=payloads,
    at=st.floats(min_value=0, max_value=4e9),
)
def test_a_line_parses_back_into_the_event_that_was_sent(
    kind: str,
    source: str,
    dial_id: str | None,
    status: int | None,
    attempt: int | None,
    reason: str | None,
    payload: dict[str, str] | None,
    at: float,
) -> None:
    sent = RelayEvent(
        kind,
        source,
        dial_id=dial_id,
        status=status,
        attempt=attempt,
        reason=reason,
        payload=None if payload is None else orjson.dumps(payload),
        replica="replica-b",
        at=at,
    )
    got = parse_line(sent.line())
    assert isinstance(got, RelayEvent)
    assert got.as_dict() == sent.as_dict()  # masking what is masked changes nothing


@given(st.binary(max_size=200))
def test_any_line_is_an_event_or_none_never_an_error(line: bytes) -> None:
    got = parse_line(line)
    assert got is None or isinstance(got, RelayEvent | Missed)


def test_a_missed_line_is_a_count_and_nonsense_is_nothing() -> None:
    got = parse_line(b'{"kind": "missed", "missed": 7, "replica": "b"}')
    assert isinstance(got, Missed) and got.count == 7 and got.replica == "b"
    assert parse_line(b'{"kind": "missed", "missed": -1}') is None
    assert parse_line(b"[1, 2]") is None
    assert parse_line(b'{"source": "crm"}') is None


class _Channel:
    """An event channel in memory: what ``publish`` sends, its followers read."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[bytes]] = []

    async def follow_events(self, ready: Callable[[], None]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.queues.append(queue)
        ready()
        try:
            while True:
                yield await queue.get()
        finally:
            self.queues.remove(queue)

    def publish(self, message: bytes) -> None:
        for queue in self.queues:
            queue.put_nowait(message)


def test_the_feed_follows_the_channel_only_while_subscribed() -> None:
    async def run() -> None:
        channel = _Channel()
        feed = ClusterFeed(channel, replica="a")
        assert not channel.queues
        subscription = feed.subscribe(sources=["crm"])
        await asyncio.wait_for(feed.ready.wait(), 5)
        line = RelayEvent("queued", "crm", dial_id="d-1", replica="b").line()
        other = RelayEvent("queued", "other", dial_id="d-2", replica="b").line()
        channel.publish(other + b"\n" + line + b'\n{"kind":"missed","missed":3,"replica":"b"}')
        items = await subscription.get(within=5)
        while items is not None and len(items) < 2:
            items += await subscription.get(within=5) or []
        assert items is not None
        events = [i for i in items if isinstance(i, RelayEvent)]
        missed = [i for i in items if isinstance(i, Missed)]
        assert [(e.source, e.dial_id, e.replica) for e in events] == [("crm", "d-1", "b")]
        assert [m.count for m in missed] == [3]  # a replica's drops are told too
        subscription.close()
        for _ in range(50):
            if not channel.queues:
                break
            await asyncio.sleep(0.01)
        assert not channel.queues and not feed.ready.is_set()
        feed.close()

    asyncio.run(run())
