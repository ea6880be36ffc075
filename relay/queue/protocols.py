"""The queue's seams, one small protocol per role; ``DialQueue`` is what a full backend is.

Model: an SQS-like visibility timeout. ``lease`` hands out due dials and hides them for
``visibility`` seconds; ``ack`` removes a delivered dial; ``retry`` makes it due again later;
a dial whose lease runs out (its worker died) becomes due again by itself. Dedupe is by
``(source, dial_id)`` within a window. Dead letters are kept until an operator replays or
purges them. Rejected requests too, within the retention limits (``trim_rejected``: the
relay drops the oldest beyond them, and counts and logs each drop).

The roles:

* ``DeliveryQueue``: intake stores (with dedupe; a batch in one commit: ``enqueue_many``),
  the forwarder leases and settles each dial (ack, retry, release, dead-letter), holds and
  releases sources.
* ``DeadLetterStore``: what ``relay dlq`` lists, shows, replays and purges.
* ``RejectedStore``: requests that could not be mapped, kept raw (``relay rejected``), within
  the retention limits.
* ``QueueHealth``: ``/readyz`` (``ping``), the metrics and ``relay queue stats`` (``stats``).
* ``QueueLifecycle``: ``open`` and ``close``.
* ``DialHistory``: each stored dial's timeline (``relay dial show``), recorded by the calls of
  the other roles as they happen (``relay.queue.history``) and kept for a while after the dial
  settled (``trim_history``).
* ``ActivityStore``: counts of outcomes per source and minute, and each source's last
  webhook time, written by every replica (``relay.core.activity`` flushes a process's
  ``OutcomeTally``) and read summed over the cluster; kept ``ACTIVITY_KEEP_SECONDS``.
* ``ReadOnlyOpen`` (optional, runtime-checkable): ``open_read_only``, for a caller that only
  reads and must leave no trace (``relay backfill --dry-run``: nothing created or set up).

A caller that needs one role takes that protocol; a backend implements ``DialQueue`` (all of
them) and is found by its URL scheme (``relay.queue.registry``). Every method is safe to call
concurrently from one event loop. Ids are strings the backend hands out: a *queue id*
(``LeasedDial.id``) names one stored dial; ``dial_id`` is the dialer's own id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from relay.obs.tally import CountRow
from relay.queue.models import (
    Attempt,
    DeadDial,
    DialRecord,
    LeasedDial,
    NewDial,
    PoisonedDial,
    QueueStats,
    RejectedRecord,
    RejectedTrim,
)

if TYPE_CHECKING:
    from relay.queue.models import LegMerge, LegOutcome

__all__ = [
    "ActivityStore",
    "DeadLetterStore",
    "DeliveryQueue",
    "DialHistory",
    "DialQueue",
    "QueueHealth",
    "QueueLifecycle",
    "ReadOnlyOpen",
    "RejectedStore",
    "ReplicaDirectory",
    "ReportsPoison",
]


class QueueLifecycle(Protocol):
    """Connect before the first operation, let go after the last."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class ReadOnlyOpen(Protocol):
    """A backend that can be opened for reads alone (both built-in ones can)."""

    async def open_read_only(self) -> None:
        """Open for reads only: nothing in the queue is created, set up or written (SQLite:
        the file must exist and is opened ``mode=ro``; Redis: no key, not even the consumer
        group's streams); a write fails (``QueueUnavailable``). ``close`` as usual after."""
        ...


class QueueHealth(Protocol):
    """Whether the queue can store right now, and how much is in it."""

    async def ping(self) -> bool:
        """True when the backend can store right now (for ``/readyz``)."""
        ...

    async def stats(self, *, now: float) -> QueueStats: ...


class DeliveryQueue(Protocol):
    """The delivery path: store with dedupe, lease, and settle every leased dial.

    A backend that keeps history (``DialHistory``) starts a dial's record when it stores the
    dial (if history is on) and appends each step to it in the same transaction or script:
    a leg merged, a job resolved, each settle call with the ``Attempt`` (outboundIQ's answer)
    that led to it, when there was one.
    """

    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        """Store ``dial`` durably; False (nothing stored) when its id is already known.

        The id is remembered for ``dedupe_seconds`` from now (each entry has its own expiry:
        live intake uses the dedupe window, backfill a much longer one).
        """
        ...

    async def enqueue_many(self, dials: Sequence[NewDial], dedupe_seconds: float) -> list[bool]:
        """Store a batch of dials in ONE durable commit: every new one, or (on an error) none.

        Per dial, as ``enqueue``: True stored, False its id is already known (before the
        batch, or from an earlier dial of the same batch). Used for a delivery that carries
        many calls at once (Amazon Connect records through Kinesis Data Firehose), which is
        acknowledged only once all of it is stored.
        """
        ...

    async def coalesce(
        self, dial: NewDial, dedupe_seconds: float, *, window: float, merge: LegMerge
    ) -> LegOutcome:
        """Store ``dial`` as one leg of a call whose legs arrive within ``window`` seconds.

        The first leg is stored as ``enqueue`` would, but held: due no earlier than its
        ``received_at + window``, and no lease (a probe's horizon included) or
        ``release_delayed`` takes it sooner. A later leg of the same ``(source, dial_id)``
        received before then is merged into the held dial's payload (``merge(stored, leg)``),
        atomically however many legs arrive at once, on however many replicas. ``"queued"``:
        the first leg, stored; ``"coalesced"``: merged; ``"duplicate"``: nothing stored (the
        window has closed, or the dial is already leased). The id is remembered for
        ``max(dedupe_seconds, window)``.
        """
        ...

    async def seen(self, source: str, dial_id: str, *, now: float) -> bool:
        """True when ``(source, dial_id)`` was accepted and its dedupe entry has not expired."""
        ...

    async def lease(
        self,
        limit: int,
        visibility: float,
        *,
        now: float,
        exclude_sources: Collection[str] = (),
        only_sources: Collection[str] | None = None,
        horizon: float | None = None,
    ) -> list[LeasedDial]:
        """Lease up to ``limit`` dials due by ``horizon`` (default ``now``), earliest first."""
        ...

    async def ack(
        self, ids: Sequence[str], *, attempts: Mapping[str, Attempt] | None = None
    ) -> None:
        """Remove delivered dials (queue ids); ``attempts``: the POST that delivered each."""
        ...

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        """Swap a leased item's payload (a resolved mapping job becomes a plain dial)."""
        ...

    async def retry(
        self, queue_id: str, due_at: float, error: str, *, attempt: Attempt | None = None
    ) -> None:
        """Make the leased dial ``queue_id`` due again at ``due_at`` (after ``attempt``, or
        without a POST, because of ``error``)."""
        ...

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        """Give leased dials back at once (graceful shutdown)."""
        ...

    async def release_delayed(self, *, now: float, sources: Collection[str] | None = None) -> int:
        """Make every delayed dial (of ``sources``, or all) due now: circuit closed, key fixed.

        A held first leg (``coalesce``) becomes due at the end of its window, not before."""
        ...

    async def delay_sources(self, sources: Collection[str], until: float) -> int:
        """Push every waiting dial of ``sources`` to ``until`` (a held key's next probe)."""
        ...

    async def next_due(self) -> float | None:
        """When the earliest dial becomes due (None: queue empty)."""
        ...

    async def dead_letter(
        self,
        queue_id: str,
        *,
        reason: str,
        status: int | None,
        response_body: str,
        now: float,
        attempt: Attempt | None = None,
    ) -> None:
        """Move the leased dial ``queue_id`` to the dead-letter store (after ``attempt``)."""
        ...


class DeadLetterStore(Protocol):
    """Dials outboundIQ refused for good, kept until an operator replays or purges them."""

    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[DeadDial]:
        """Dead letters in the order they died (``newest_first``: the latest first)."""
        ...

    async def get_dead(self, queue_id: str) -> DeadDial | None: ...

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int:
        """Put dead letters back in the live lane, due now; how many there were."""
        ...

    async def purge_dead(self, ids: Sequence[str]) -> int: ...


class RejectedStore(Protocol):
    """Requests that could not be mapped, kept raw so they can be replayed after a fix."""

    async def add_rejected(self, record: RejectedRecord) -> str: ...

    async def list_rejected(
        self,
        *,
        source: str | None = None,
        before: float | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[RejectedRecord]:
        """Records in arrival order (``newest_first``: the latest first), of ``source``,
        received before ``before``, if given."""
        ...

    async def get_rejected(self, record_id: str) -> RejectedRecord | None: ...

    async def delete_rejected(self, ids: Sequence[str]) -> int: ...

    async def trim_rejected(self, *, before: float | None, keep: int | None) -> RejectedTrim:
        """Drop the records received before ``before``, then the oldest beyond the newest
        ``keep`` (None: no such limit); how many went for each reason. A backend may stop
        after a bounded amount of work per call (Redis: 10,000 records): call again."""
        ...


class DialHistory(Protocol):
    """Each stored dial's timeline: received, attempts with outboundIQ's answers, delivered
    or dead-lettered, replayed. Kept while the dial is in the queue or the dead-letter store,
    then until ``trim_history`` drops it (``RELAY_DIAL_HISTORY_SECONDS`` after it settled)."""

    async def dial_history(self, dial_id: str, *, source: str | None = None) -> list[DialRecord]:
        """Every record of ``dial_id`` (of ``source``, if given), oldest first, with its
        payload (phones unmasked: the caller masks what it shows)."""
        ...

    async def list_history(
        self,
        *,
        source: str | None = None,
        since: float | None = None,
        until: float | None = None,
        phone_last4: str | None = None,
        limit: int = 100,
    ) -> list[DialRecord]:
        """Records received in ``[since, until)`` (of ``source``; whose number ends in
        ``phone_last4``), newest first, without payloads."""
        ...

    async def trim_history(self, *, before: float) -> int:
        """Drop the records of dials settled (delivered, or purged from the dead-letter store)
        before ``before``; how many. At most a bounded number per call (``TRIM_BATCH``):
        call again while it returns that many."""
        ...


class ActivityStore(Protocol):
    """Outcome counts per source in minute buckets, and each source's last webhook time,
    shared by every process on the queue (replicas add to the same buckets). A bucket goes
    ``ACTIVITY_KEEP_SECONDS`` after its minute (SQLite: trimmed as new rows are added;
    Redis: each minute's hash expires)."""

    async def add_activity(
        self, rows: Sequence[CountRow], last_webhooks: Mapping[str, float]
    ) -> None:
        """Add ``rows`` to their minutes' counts and keep each source's later last-webhook
        time, in one write (one commit, or one Redis transaction)."""
        ...

    async def activity(self, *, since: float, until: float) -> dict[tuple[str, str], int]:
        """``(source, outcome)`` → the count summed over the minute buckets that start in
        ``[since, until)`` (within the retention)."""
        ...

    async def last_webhooks(self) -> dict[str, float]:
        """Each source's last authenticated webhook time (Unix time) that was stored."""
        ...


@runtime_checkable
class ReportsPoison(Protocol):
    """Optional: a queue that dead-letters a dial by itself, with no outcome from the
    forwarder (Redis: a dial handed out ``RELAY_REDIS_MAX_DELIVERIES`` times), tells each
    listener, so that the metrics, the activity counts and the live feed see it like any
    other dead letter. A listener runs on the event loop and must be quick; what it raises is
    logged, not raised. SQLite has no such dead letters and does not implement it."""

    def on_poison(self, listener: Callable[[PoisonedDial], None]) -> None:
        """Call ``listener`` for each dial this queue dead-letters as poison from now on."""
        ...


@runtime_checkable
class ReplicaDirectory(Protocol):
    """Optional: the processes sharing the queue, each announcing itself every few seconds
    (Redis: every replica of a scale-out; SQLite has one process and does not implement it)."""

    async def beat(self, replica: str, *, now: float) -> None:
        """Say that ``replica`` is alive at ``now``."""
        ...

    async def replicas(self, *, since: float) -> dict[str, float]:
        """Each replica that beat at or after ``since``, with its last beat (Unix time)."""
        ...


class DialQueue(
    QueueLifecycle,
    QueueHealth,
    DeliveryQueue,
    DeadLetterStore,
    RejectedStore,
    DialHistory,
    ActivityStore,
    Protocol,
):
    """The durable queue: every role at once, what a backend implements."""
