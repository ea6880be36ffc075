"""The replicas' event channel on the real Redis: published only while someone listens,
batched, and read by ``follow_events`` (what ``relay tail`` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import orjson
import pytest

from relay.exceptions import QueueUnavailable
from relay.obs.broadcast import EventChannel, broadcast
from relay.obs.events import RelayEvent
from relay.obs.feed import EventFeed
from relay.queue.redis.events import events_channel, follow_events
from tests.support.fake_outboundiq import free_port
from tests.support.redis import REDIS_URL
from tests.unit.queue.redis.support import MakeQueue

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

WIRE = orjson.dumps({"ani": "5125550100", "prospect_phone": "5125550187", "dial_id": "d0"})


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_the_queue_is_the_replicas_event_channel(make_queue: MakeQueue, prefix: str) -> None:
    queue = await make_queue()
    assert isinstance(queue, EventChannel)
    assert queue.events_channel == events_channel(prefix) == "{" + prefix + "}:events"
    assert await queue.event_listeners() == 0


async def test_events_go_out_only_while_someone_listens_a_batch_a_message(
    make_queue: MakeQueue, prefix: str
) -> None:
    queue = await make_queue(consumer="pod-a")
    feed = EventFeed("pod-a")
    broadcaster = asyncio.create_task(broadcast(feed, queue, check_every=0.1))
    messages: list[bytes] = []
    ready = asyncio.Event()

    async def listen() -> None:
        async for message in follow_events(REDIS_URL, prefix=prefix, ready=ready.set):
            messages.append(message)

    try:
        await asyncio.sleep(0.3)  # a few checks: nobody listens
        assert feed.active is False  # so intake and delivery build no event at all
        listener = asyncio.create_task(listen())
        await asyncio.wait_for(ready.wait(), 10)
        await until(lambda: feed.active)
        for n in range(5):  # one turn of the event loop: one message
            feed.publish(RelayEvent("queued", "crm", dial_id=f"d{n}", payload=WIRE))
        await until(lambda: len(messages) >= 1)
        assert len(messages) == 1
        lines = [json.loads(line) for line in messages[0].split(b"\n")]
        assert [e["dial_id"] for e in lines] == ["d0", "d1", "d2", "d3", "d4"]
        assert {e["replica"] for e in lines} == {"pod-a"}
        assert lines[0]["payload"]["ani"] == "******0100"
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await until(lambda: not feed.active)  # the listener left: the feed is off again
    finally:
        broadcaster.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await broadcaster


async def test_the_broadcaster_ends_with_the_feed(make_queue: MakeQueue, prefix: str) -> None:
    """The relay stopping closes the feed: the broadcaster returns by itself."""
    queue = await make_queue()
    feed = EventFeed()
    broadcaster = asyncio.create_task(broadcast(feed, queue, check_every=0.05))
    ready = asyncio.Event()

    async def listen() -> None:
        async for _message in follow_events(REDIS_URL, prefix=prefix, ready=ready.set):
            pass

    listener = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await until(lambda: feed.active)
        feed.close()
        await asyncio.wait_for(broadcaster, 10)
        assert feed.active is False
    finally:
        for task in (listener, broadcaster):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_an_unreachable_redis_is_named_without_its_password() -> None:
    url = f"redis://:tail-secret-pw@127.0.0.1:{free_port()}/0"
    with pytest.raises(QueueUnavailable) as caught:
        async for _message in follow_events(url):
            pass
    assert "tail-secret-pw" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
