"""The cluster's live feed: every replica's events, read from the shared event channel.

With a Redis queue every replica publishes its events on one channel while anyone listens
(``relay.obs.broadcast``). ``ClusterFeed`` is an ``EventFeed`` whose events come from that
channel instead of from this process: while it has subscribers it follows the channel
(``EventFollower.follow_events``, one connection per relay however many subscribe) and
publishes what every replica sent, this one included; with none it lets the channel go.
Subscribers (the console's Live page) read it exactly like the local feed: filters, a bounded
buffer, ``Missed`` counts (a replica's own dropped events are counted in as well).

``ready`` is set once the channel confirmed the subscription (from then on nothing published
is missed, though each replica starts publishing up to a second later: it looks for listeners
once a second) and cleared while the channel is lost; a lost channel is logged and followed
again after ``RETRY_SECONDS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol, runtime_checkable

import orjson
import structlog

from relay.obs.events import Missed, RelayEvent
from relay.obs.feed import EventFeed, Subscription

__all__ = ["ClusterFeed", "EventFollower", "parse_line"]

log = structlog.get_logger("relay.obs.cluster")

#: How long a lost channel waits before it is followed again.
RETRY_SECONDS = 1.0


@runtime_checkable
class EventFollower(Protocol):
    """A queue backend whose event channel can be read (Redis: ``RedisEvents``)."""

    def follow_events(self, ready: Callable[[], None]) -> AsyncIterator[bytes]:
        """Every message published on the channel from now on, one event's JSON a line;
        ``ready()`` once the subscription is confirmed."""
        ...


def parse_line(line: bytes) -> RelayEvent | Missed | None:
    """One line of the channel as the event a replica sent (None: not an event)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        return None
    replica = str(data.get("replica") or "")
    if data["kind"] == "missed":
        count = data.get("missed")
        return Missed(count, replica) if isinstance(count, int) and count > 0 else None
    at = data.get("at")
    payload = data.get("payload")

    def number(name: str) -> int | None:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(name: str) -> str | None:
        value = data.get(name)
        return str(value) if value is not None else None

    return RelayEvent(
        data["kind"],
        str(data.get("source") or ""),
        dial_id=text("dial_id"),
        queue_id=text("queue_id"),
        status=number("status"),
        reason=text("reason"),
        detail=text("detail"),
        attempt=number("attempt"),
        payload=None if payload is None else orjson.dumps(payload),  # masked again when shown
        replica=replica,
        at=float(at) if isinstance(at, int | float) and not isinstance(at, bool) else None,
    )


class ClusterFeed(EventFeed):
    """Every replica's events, from ``channel`` (module docstring)."""

    def __init__(self, channel: EventFollower, replica: str = "") -> None:
        super().__init__(replica)
        self.channel = channel
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def subscribed(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._follow(), name="cluster-events"
            )

    def unsubscribe(self, subscription: Subscription) -> None:
        super().unsubscribe(subscription)
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task = None
            self.ready.clear()

    def close(self) -> None:
        """End every subscription, and wake whoever waits for ``ready``: to find the end."""
        super().close()
        self.ready.set()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def lost(self, count: int) -> None:
        """``count`` events a replica dropped: every subscription is told."""
        for subscription in self.subscriptions:
            subscription.lost(count)

    async def _follow(self) -> None:
        failures = 0
        while self.subscribers:
            try:
                async for message in self.channel.follow_events(self.ready.set):
                    for line in message.split(b"\n"):
                        item = parse_line(line)
                        if isinstance(item, Missed):
                            self.lost(item.count)
                        elif item is not None:
                            self.publish(item)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost channel must not end the streams: follow again
                if self.ready.is_set() or not failures:  # logged once per outage
                    log.warning("cluster_events_lost", error=f"{type(exc).__name__}: {exc}")
                failures += 1
            else:
                failures = 0
            self.ready.clear()
            await asyncio.sleep(RETRY_SECONDS)
