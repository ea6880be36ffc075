"""What goes in and out of a queue: the records every backend stores and hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Attempt",
    "DeadDial",
    "DialEvent",
    "DialRecord",
    "LeasedDial",
    "LegMerge",
    "LegOutcome",
    "NewDial",
    "PoisonedDial",
    "QueueStats",
    "RejectedRecord",
    "RejectedTrim",
]


@dataclass(slots=True)
class NewDial:
    """A mapped dial to store. ``payload`` is the exact wire JSON sent to outboundIQ.

    Not frozen, like the other values built once per dial on the hot path (``LeasedDial``,
    ``Attempt``): a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, three times the cost of a plain one (docs/benchmarks.md). Nothing
    changes one after it is built.
    """

    source: str
    dial_id: str
    payload: bytes
    received_at: float
    lane: int = 0  # 0 = live intake; higher lanes (backfill) drain after lower ones
    due_at: float | None = None  # first attempt not before (a held key's next probe)
    kind: str = "dial"  # "dial": payload is the wire JSON; other kinds are mapping jobs


#: What ``DeliveryQueue.coalesce`` did with a leg of a call: stored it (the first leg, held),
#: merged it into the held dial, or nothing (a duplicate: the call's window has closed).
LegOutcome = Literal["queued", "coalesced", "duplicate"]
#: How a later leg joins a held dial: ``merge(stored payload, leg payload) -> new payload``.
#: It must be pure: a backend may call it more than once for one leg.
LegMerge = Callable[[bytes, bytes], bytes]


@dataclass(slots=True)
class LeasedDial:
    """A dial handed to the forwarder; ``attempts`` counts leases, this one included (not
    frozen: see ``NewDial``)."""

    id: str
    source: str
    dial_id: str
    payload: bytes
    attempts: int
    received_at: float
    kind: str = "dial"


@dataclass(frozen=True)
class PoisonedDial:
    """A dial the queue dead-lettered by itself (reason ``poison``): handed out
    ``deliveries`` times without an outcome (its replicas crashed or hung on it each time).
    ``id`` is its queue id."""

    id: str
    source: str
    dial_id: str
    deliveries: int


@dataclass(frozen=True)
class DeadDial:
    """A dial outboundIQ refused for good (or that outlived the max age)."""

    id: str
    source: str
    dial_id: str
    payload: bytes
    attempts: int
    received_at: float
    dead_at: float
    reason: str
    status: int | None
    response_body: str


@dataclass(frozen=True)
class RejectedRecord:
    """A request that could not be mapped, kept raw so it can be replayed after a fix."""

    id: str
    source: str
    received_at: float
    method: str
    content_type: str
    query: dict[str, str]
    body: bytes
    problems: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RejectedTrim:
    """What one trim of the rejected store dropped: too old (``age``), over the cap (``count``)."""

    age: int = 0
    count: int = 0


@dataclass(frozen=True)
class QueueStats:
    """Counts for ``relay queue stats`` and the metrics."""

    ready: int
    delayed: int
    leased: int
    dead: int
    rejected: int
    oldest_received_at: float | None
    by_source: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Attempt:
    """One POST of a leased dial and outboundIQ's answer, for the dial's history (not
    frozen: see ``NewDial``).

    ``at``: when the answer came (the settle call's events are dated by it); ``number``: the
    lease count (``LeasedDial.attempts``); ``status`` None means no answer (a timeout or a
    connection error); ``answer`` is short and safe to store (outboundIQ's answer redacted,
    or the error); ``seconds``: how long the POST took.
    """

    at: float
    number: int
    status: int | None
    answer: str = ""
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class DialEvent:
    """One step of a dial's timeline (``DialHistory``).

    ``kind``: ``received``, ``coalesced`` (a later leg of the call merged in), ``resolved``
    (a mapping job became the dial), ``attempt`` (a POST: ``attempt``, ``status``,
    ``answer``, ``seconds``), ``waiting`` (due again at ``due_at``; ``reason`` when no POST
    was made), ``delivered``, ``dead_lettered`` (``reason``, ``status``), ``replayed``
    (from the dead-letter store), ``purged`` (from it).
    """

    kind: str  # for ``received``, ``reason`` is the payload's kind and ``lane`` its lane
    at: float
    attempt: int | None = None
    status: int | None = None
    answer: str = ""
    seconds: float | None = None
    due_at: float | None = None
    reason: str = ""
    lane: int | None = None


@dataclass(frozen=True)
class DialRecord:
    """A stored dial's history: what it is, where it is now, and its timeline.

    ``id`` is the queue id it was stored under (kept through a replay from the dead-letter
    store). ``state``: ``queued`` (in the queue, leased or not), ``delivered``, ``dead`` (in
    the dead-letter store, as ``dead_id``) or ``purged``. ``phone_last4``: the last four
    digits of the prospect's number, the only part of it kept outside the payload.
    ``payload``: the dial as stored last (the one sent, for a delivered dial; None after a
    purge, and in listings).
    """

    id: str
    source: str
    dial_id: str
    received_at: float
    phone_last4: str
    state: str
    settled_at: float | None
    dead_id: str | None
    events: tuple[DialEvent, ...]
    payload: bytes | None = None
