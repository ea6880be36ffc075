"""The live feed: every ``RelayEvent`` of this process, fanned out to whoever subscribes.

``EventFeed.publish`` is called on the relay's hot paths (once per webhook, once per delivery
outcome), so it costs nothing when nobody listens: callers check ``feed.active`` (a plain
attribute) before they even build the event. A subscriber (``/admin/events``, the Redis
channel's publisher, the console's Live page) gets a ``Subscription``: an async iterator with a
bounded buffer. A subscriber that reads more slowly than the relay works loses its oldest
events, never slows intake or delivery, and is told how many it lost (a ``Missed`` item
before the next event).

Everything happens on one event loop (the relay's): ``publish`` and ``subscribe`` are called
on it, and a subscription is read on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from relay.obs.events import Missed, RelayEvent, selected_kinds

__all__ = ["DEFAULT_BUFFER", "EventFeed", "FeedItem", "Subscription"]

#: What a subscription holds before it drops its oldest events.
DEFAULT_BUFFER = 1000

#: What a subscriber reads: an event, or how many were dropped before the next one.
FeedItem = RelayEvent | Missed


class Subscription:
    """One subscriber's view of the feed: the events its filters select, oldest first.

    ``sources`` and ``outcomes`` (empty: all) select events by source and by kind
    (``received``: every intake event). Read with ``async for item in subscription``, or
    ``await subscription.get(within)`` for everything waiting at once. ``close()`` (or leaving
    ``async with``) unsubscribes; a closed subscription hands out what it still holds, then
    ends.
    """

    def __init__(
        self,
        feed: EventFeed,
        *,
        sources: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        buffer: int = DEFAULT_BUFFER,
    ) -> None:
        if buffer < 1:
            raise ValueError("a subscription's buffer holds at least one event")
        self._feed = feed
        self.sources = frozenset(sources)
        self.outcomes = selected_kinds(outcomes)
        self._items: deque[RelayEvent] = deque(maxlen=buffer)
        self._missed = 0
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def wants(self, event: RelayEvent) -> bool:
        """Whether ``event`` passes this subscription's filters."""
        return (not self.sources or event.source in self.sources) and (
            not self.outcomes or event.kind in self.outcomes
        )

    def offer(self, event: RelayEvent) -> None:
        """Take ``event`` (the feed calls this); when the buffer is full its oldest goes."""
        items = self._items
        if len(items) == items.maxlen:
            self._missed += 1
        items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def lost(self, count: int) -> None:
        """``count`` events were dropped upstream (a replica's broadcaster fell behind): told
        with the next read, as this subscription's own drops are."""
        self._missed += count
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pending(self) -> list[FeedItem]:
        """Everything waiting, without waiting: a ``Missed`` first when events were dropped."""
        out: list[FeedItem] = []
        if self._missed:
            out.append(Missed(self._missed, self._feed.replica))
            self._missed = 0
        if self._items:
            out.extend(self._items)
            self._items.clear()
        return out

    async def get(self, within: float | None = None) -> list[FeedItem] | None:
        """What is waiting, once there is something (``[]`` after ``within`` seconds with
        nothing); None once the subscription is closed and emptied."""
        await self._wait(within)
        if self.closed and not self._items and not self._missed:
            return None
        return self.pending()

    async def _wait(self, within: float | None) -> None:
        """Until something is waiting, the subscription is closed, or ``within`` seconds
        passed."""
        if self._items or self._missed or self.closed:
            return
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, within)
        except TimeoutError:
            pass
        finally:
            self._waiter = None

    def close(self) -> None:
        """Unsubscribe (a reader waiting in ``get`` wakes up and finds the end)."""
        if self.closed:
            return
        self.closed = True
        self._feed.unsubscribe(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> FeedItem:
        await self._wait(None)
        if self._missed:
            missed = Missed(self._missed, self._feed.replica)
            self._missed = 0
            return missed
        if self._items:
            return self._items.popleft()
        raise StopAsyncIteration

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventFeed:
    """This process's events, fanned out to its subscriptions. ``replica`` names the process
    in every event (the pod name; ``RELAY_REDIS_CONSUMER`` on Redis)."""

    def __init__(self, replica: str = "") -> None:
        self.replica = replica
        #: True while anyone subscribes: check it before building an event.
        self.active = False
        self._subscriptions: tuple[Subscription, ...] = ()
        self._closed = False

    def publish(self, event: RelayEvent) -> None:
        """Hand ``event`` to every subscription that wants it (nothing when none does)."""
        subscriptions = self._subscriptions
        if not subscriptions:
            return
        if not event.replica:
            event.replica = self.replica
        for subscription in subscriptions:
            if subscription.wants(event):
                subscription.offer(event)

    def subscribe(
        self,
        *,
        sources: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        buffer: int = DEFAULT_BUFFER,
    ) -> Subscription:
        """A new subscription (see ``Subscription``); ``ValueError`` for an unknown outcome.
        After ``close()`` it is closed from the start."""
        subscription = Subscription(self, sources=sources, outcomes=outcomes, buffer=buffer)
        if self._closed:
            subscription.closed = True
            return subscription
        self._subscriptions = (*self._subscriptions, subscription)
        self.active = True
        self.subscribed()
        return subscription

    def subscribed(self) -> None:
        """Called after each new subscription (a feed with a source of its own starts it)."""

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
        self.active = bool(self._subscriptions)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._subscriptions

    def close(self) -> None:
        """End every subscription (the relay is stopping); later ones are closed at once."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription.close()
