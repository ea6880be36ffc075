"""Every replica's events on one shared channel (Redis pub/sub), for ``relay tail``.

``broadcast(feed, channel)`` runs beside the relay when its queue offers an ``EventChannel``
(the Redis backend: ``<prefix>:events``). It costs next to nothing while nobody listens: it
asks the channel how many listen (``PUBSUB NUMSUB``) once every ``check_every`` seconds, and
subscribes to the feed only while someone does, so intake does not even build events until
then. While it is subscribed, the events of up to ``interval`` seconds (50 ms) go out as one
message, one JSON object a line, ``Missed`` lines included. A channel that fails is logged
(once a minute at most) and tried again: the feed never slows intake or delivery.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

import structlog

from relay.obs.feed import EventFeed, Subscription

__all__ = ["EventChannel", "broadcast"]

log = structlog.get_logger("relay.obs.broadcast")

#: What one replica's broadcaster holds before it drops the oldest events.
BROADCAST_BUFFER = 10_000
#: A failing channel is logged at most this often.
FAILURE_LOGGED_EVERY = 60.0


@runtime_checkable
class EventChannel(Protocol):
    """Where every replica publishes its events (a queue backend may offer one)."""

    @property
    def events_channel(self) -> str:
        """The channel's name, for the logs and ``relay tail``."""
        ...

    async def event_listeners(self) -> int:
        """How many listen to the channel right now."""
        ...

    async def publish_events(self, message: bytes) -> None:
        """Send ``message`` (event lines) to everyone listening."""
        ...


class _Failures:
    """Logs a failing channel at most once per ``FAILURE_LOGGED_EVERY`` seconds."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.logged_at = -FAILURE_LOGGED_EVERY
        self.since = 0

    def failed(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        self.since += 1
        if now - self.logged_at >= FAILURE_LOGGED_EVERY:
            log.warning(
                "event_channel_failed",
                channel=self.channel,
                action=what,
                error=f"{type(exc).__name__}: {exc}",
                failures=self.since,
            )
            self.logged_at = now
            self.since = 0


async def broadcast(
    feed: EventFeed,
    channel: EventChannel,
    *,
    interval: float = 0.05,
    check_every: float = 1.0,
    buffer: int = BROADCAST_BUFFER,
) -> None:
    """Publish ``feed``'s events on ``channel`` while anyone listens; returns when the feed
    is closed (cancel it to stop sooner)."""
    failures = _Failures(channel.events_channel)
    subscription: Subscription | None = None
    try:
        while True:
            listening = await _listeners(channel, failures)
            if not listening:
                if subscription is not None:
                    subscription.close()
                    subscription = None
                await asyncio.sleep(check_every)
                continue
            if subscription is None:
                subscription = feed.subscribe(buffer=buffer)
            if not await _publish_for(subscription, channel, failures, interval, check_every):
                return
    finally:
        if subscription is not None:
            subscription.close()


async def _listeners(channel: EventChannel, failures: _Failures) -> int:
    try:
        return await channel.event_listeners()
    except Exception as exc:  # a channel that fails must not stop the relay
        failures.failed("listeners", exc)
        return 0


async def _publish_for(
    subscription: Subscription,
    channel: EventChannel,
    failures: _Failures,
    interval: float,
    period: float,
) -> bool:
    """Publish what comes for ``period`` seconds, one message per ``interval``; False when
    the feed was closed."""
    deadline = time.monotonic() + period
    while (left := deadline - time.monotonic()) > 0:
        items = await subscription.get(within=left)
        if items is None:
            return False
        if not items:
            continue
        await asyncio.sleep(interval)  # the rest of this interval's events join the message
        items.extend(subscription.pending())
        message = b"\n".join(item.line() for item in items)
        try:
            await channel.publish_events(message)
        except Exception as exc:
            failures.failed("publish", exc)
    return True
