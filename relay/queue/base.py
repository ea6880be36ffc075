"""The queue interface every backend implements (SQLite embedded, Redis Streams shared).

Model: an SQS-like visibility timeout. ``lease`` hands out due dials and hides them for
``visibility`` seconds; ``ack`` removes a delivered dial; ``retry`` makes it due again later;
a dial whose lease runs out (its worker died) becomes due again by itself. Dedupe is by
``(source, dial_id)`` within a window. Dead letters and rejected requests are kept until an
operator replays or purges them: nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "DeadDial",
    "DialQueue",
    "LeasedDial",
    "NewDial",
    "QueueStats",
    "RejectedRecord",
]


@dataclass(frozen=True)
class NewDial:
    """A mapped dial to store. ``payload`` is the exact wire JSON sent to outboundIQ."""

    source: str
    dial_id: str
    payload: bytes
    received_at: float
    lane: int = 0  # 0 = live intake; higher lanes (backfill) drain after lower ones
    due_at: float | None = None  # first attempt not before (a held key's next probe)
    kind: str = "dial"  # "dial": payload is the wire JSON; other kinds are mapping jobs


@dataclass(frozen=True)
class LeasedDial:
    """A dial handed to the forwarder; ``attempts`` counts leases, this one included."""

    id: str
    source: str
    dial_id: str
    payload: bytes
    attempts: int
    received_at: float
    kind: str = "dial"


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
class QueueStats:
    """Counts for ``relay queue stats`` and the metrics."""

    ready: int
    delayed: int
    leased: int
    dead: int
    rejected: int
    oldest_received_at: float | None
    by_source: dict[str, int] = field(default_factory=dict)


class DialQueue(Protocol):
    """The durable queue. All methods are safe to call concurrently from one event loop."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the backend can store right now (for ``/readyz``)."""
        ...

    # --- the delivery path -------------------------------------------------------------
    async def enqueue(self, dial: NewDial, dedupe_seconds: float) -> bool:
        """Store ``dial`` durably; False (nothing stored) when its id is already known.

        The id is remembered for ``dedupe_seconds`` from now (each entry has its own expiry:
        live intake uses the dedupe window, backfill a much longer one).
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

    async def ack(self, ids: Sequence[str]) -> None: ...

    async def replace_payload(self, queue_id: str, payload: bytes, kind: str = "dial") -> None:
        """Swap a leased item's payload (a resolved mapping job becomes a plain dial)."""
        ...

    async def retry(self, dial_id: str, due_at: float, error: str) -> None:
        """Make the leased dial ``dial_id`` (queue id) due again at ``due_at``."""
        ...

    async def release(self, ids: Sequence[str], *, now: float) -> None:
        """Give leased dials back at once (graceful shutdown)."""
        ...

    async def release_delayed(self, *, now: float, sources: Collection[str] | None = None) -> int:
        """Make every delayed dial (of ``sources``, or all) due now: circuit closed, key fixed."""
        ...

    async def delay_sources(self, sources: Collection[str], until: float) -> int:
        """Push every waiting dial of ``sources`` to ``until`` (a held key's next probe)."""
        ...

    async def next_due(self) -> float | None:
        """When the earliest dial becomes due (None: queue empty)."""
        ...

    async def dead_letter(
        self, queue_id: str, *, reason: str, status: int | None, response_body: str, now: float
    ) -> None: ...

    async def stats(self, *, now: float) -> QueueStats: ...

    # --- dead letters --------------------------------------------------------------------
    async def list_dead(
        self,
        *,
        source: str | None = None,
        status: int | None = None,
        before: float | None = None,
        limit: int = 100,
    ) -> list[DeadDial]: ...

    async def get_dead(self, queue_id: str) -> DeadDial | None: ...

    async def replay_dead(self, ids: Sequence[str], *, now: float) -> int: ...

    async def purge_dead(self, ids: Sequence[str]) -> int: ...

    # --- rejected requests -------------------------------------------------------------
    async def add_rejected(self, record: RejectedRecord) -> str: ...

    async def list_rejected(
        self, *, source: str | None = None, limit: int = 100
    ) -> list[RejectedRecord]: ...

    async def get_rejected(self, record_id: str) -> RejectedRecord | None: ...

    async def delete_rejected(self, ids: Sequence[str]) -> int: ...
