"""The live feed: every ``RelayEvent`` of this process, fanned out to whoever subscribes.

``EventFeed.publish`` is called on the relay's hot paths (once per webhook, once per delivery
outcome), so it costs nothing when nobody listens: callers check ``feed.active`` (a plain
attribute) before they even build the event. A subscriber (``/admin/events``, the Redis
channel's publisher, the console's Live page) gets a ``Subscription``: an async iterator with a
bounded buffer. A subscriber that reads more slowly than the relay works loses its oldest
events, never slows intake or delivery, and is told how many it lost (a ``Missed`` item
before the next event). A subscription may also take at most ``per_second`` events of each
kind a second (the console's Live page, which a person reads): the rest are never rendered,
only counted (a ``Skipped`` item), so a rare kind (a rejection, a dead letter) still shows
among thousands of deliveries.

Everything happens on one event loop (the relay's): ``publish`` and ``subscribe`` are called
on it, and a subscription is read on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType

from relay.obs.events import Missed, RelayEvent, Skipped, selected_kinds

__all__ = ["DEFAULT_BUFFER", "EventFeed", "FeedItem", "Subscription"]

#: What a subscription holds before it drops its oldest events.
DEFAULT_BUFFER = 1000

#: What a subscriber reads: an event, or how many were dropped before the next one.
FeedItem = RelayEvent | Missed | Skipped


class Subscription:
    """One subscriber's view of the feed: the events its filters select, oldest first.

    ``sources`` and ``outcomes`` (empty: all) select events by source and by kind
    (``received``: every intake event); ``per_second`` (None: no limit) is the most events of
    one kind it takes within a second, counting the rest as skipped. Read with
    ``async for item in subscription``, or ``await subscription.get(within)`` for everything
    waiting at once. ``close()`` (or leaving ``async with``) unsubscribes; a closed
    subscription hands out what it still holds, then ends.
    """

    def __init__(
        self,
        feed: EventFeed,
        *,
        sources: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        buffer: int = DEFAULT_BUFFER,
        per_second: int | None = None,
    ) -> None:
        if buffer < 1:
            raise ValueError("a subscription's buffer holds at least one event")
        if per_second is not None and per_second < 1:
            raise ValueError("a subscription's rate limit takes at least one event a second")
        self._feed = feed
        self.sources = frozenset(sources)
        self.outcomes = selected_kinds(outcomes)
        self._items: deque[RelayEvent] = deque(maxlen=buffer)
        self._missed = 0
        self.per_second = per_second
        self._skipped = 0
        self._window = 0.0  # when the current second of the rate limit ends
        self._taken: dict[str, int] = {}  # events of each kind taken in that second
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def selects(self, kind: str, source: str) -> bool:
        """Whether an event of ``kind`` from ``source`` passes this subscription's filters."""
        return (not self.sources or source in self.sources) and (
            not self.outcomes or kind in self.outcomes
        )

    def admits(self, kind: str) -> bool:
        """Whether an event of ``kind`` fits the rate limit now (and is counted in it); one
        that does not is counted as skipped."""
        if self.per_second is not None and not self._within_rate(kind):
            self._skipped += 1
            self._wake()
            return False
        return True

    def take(self, event: RelayEvent) -> None:
        """Hold ``event`` for the reader (the feed calls this once ``admits`` passed it); when
        the buffer is full its oldest goes."""
        items = self._items
        if len(items) == items.maxlen:
            self._missed += 1
        items.append(event)
        self._wake()

    def _within_rate(self, kind: str) -> bool:
        """Whether one more event of ``kind`` fits this second's limit (and counts it)."""
        now = time.monotonic()
        if now >= self._window:
            self._window = now + 1.0
            self._taken.clear()
        taken = self._taken.get(kind, 0)
        if taken >= (self.per_second or 0):
            return False
        self._taken[kind] = taken + 1
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def lost(self, count: int) -> None:
        """``count`` events were dropped upstream (a replica's broadcaster fell behind): told
        with the next read, as this subscription's own drops are."""
        self._missed += count
        self._wake()

    def _notes(self) -> list[Missed | Skipped]:
        """A ``Missed`` for the events dropped, a ``Skipped`` for those over the rate limit,
        since the last read (each counter then starts again)."""
        out: list[Missed | Skipped] = []
        if self._missed:
            out.append(Missed(self._missed, self._feed.replica))
            self._missed = 0
        if self._skipped:
            out.append(Skipped(self._skipped, self.per_second or 0, self._feed.replica))
            self._skipped = 0
        return out

    def pending(self) -> list[FeedItem]:
        """Everything waiting, without waiting: a ``Missed`` first when events were dropped
        (a ``Skipped`` when some were over the rate limit)."""
        out: list[FeedItem] = [*self._notes()]
        if self._items:
            out.extend(self._items)
            self._items.clear()
        return out

    async def get(self, within: float | None = None) -> list[FeedItem] | None:
        """What is waiting, once there is something (``[]`` after ``within`` seconds with
        nothing); None once the subscription is closed and emptied."""
        await self._wait(within)
        if self.closed and not self._items and not self._missed and not self._skipped:
            return None
        return self.pending()

    async def _wait(self, within: float | None) -> None:
        """Until something is waiting, the subscription is closed, or ``within`` seconds
        passed."""
        if self._items or self._missed or self._skipped or self.closed:
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
        self._wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> FeedItem:
        await self._wait(None)
        notes = self._notes()
        if notes:
            if len(notes) > 1:  # one item at a time: the skipped count waits for the next
                self._skipped = notes[1].count
            return notes[0]
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
        self.publish_lazily(event.kind, event.source, lambda: event)

    def publish_lazily(self, kind: str, source: str, build: Callable[[], RelayEvent]) -> None:
        """``publish`` an event of ``kind`` from ``source`` that ``build`` makes only when a
        subscription takes it now: one over its rate limit only counts it as skipped, so a
        busy relay followed by the console's Live page builds about ``per_second`` events of
        each kind a second, not one per webhook."""
        event = None
        for subscription in self._subscriptions:
            if not subscription.selects(kind, source) or not subscription.admits(kind):
                continue
            if event is None:
                event = build()
                if not event.replica:
                    event.replica = self.replica
            subscription.take(event)

    def subscribe(
        self,
        *,
        sources: Iterable[str] = (),
        outcomes: Iterable[str] = (),
        buffer: int = DEFAULT_BUFFER,
        per_second: int | None = None,
    ) -> Subscription:
        """A new subscription (see ``Subscription``); ``ValueError`` for an unknown outcome.
        After ``close()`` it is closed from the start."""
        subscription = Subscription(
            self, sources=sources, outcomes=outcomes, buffer=buffer, per_second=per_second
        )
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
