"""Replaying rejected requests: each one mapped again with the current sources, then stored.

``relay rejected replay`` and the console's Rejected page share it. A record whose source
still cannot map it stays in the store (``ReplayOutcome.still``: why); one that maps now is
stored as intake would store it (``store_mapped``: dedupe, legs coalesced) and leaves the
rejected store, and so does one the mapping now ignores (nothing to store). ``find_rejected``
reads named records, telling which ids are not there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from relay.core.pipeline import map_request, parse_request, store_mapped
from relay.core.sources import Source
from relay.exceptions import MappingError, UnsupportedMediaType
from relay.queue.base import DialQueue, RejectedRecord, RejectedStore

__all__ = ["ReplayOutcome", "StillRejected", "find_rejected", "replay_rejected"]

#: Records mapped between two yields to the event loop (a big replay stays fair to intake).
_YIELD_EVERY = 50


@dataclass(frozen=True)
class StillRejected:
    """A record the replay left in the store: its id, source and why (``unconfigured``:
    its source is no longer configured)."""

    id: str
    source: str
    reason: str
    unconfigured: bool = False


@dataclass
class ReplayOutcome:
    """What a replay did: dials stored (``queued``, a leg merged into its call included),
    ``duplicates`` (already accepted), ``ignored`` (the mapping now skips them), and the
    records ``still`` rejected."""

    queued: int = 0
    duplicates: int = 0
    ignored: int = 0
    still: list[StillRejected] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        """Records that left the rejected store."""
        return self.queued + self.duplicates + self.ignored

    def summary(self) -> str:
        """``queued 2, duplicate 0, still rejected 1`` (``, ignored N`` when some were)."""
        extra = f", ignored {self.ignored}" if self.ignored else ""
        return (
            f"queued {self.queued}, duplicate {self.duplicates}, "
            f"still rejected {len(self.still)}{extra}"
        )


async def find_rejected(
    store: RejectedStore, ids: Sequence[str]
) -> tuple[list[RejectedRecord], list[str]]:
    """The records named by ``ids`` that are there, and the ids that are not."""
    found: list[RejectedRecord] = []
    missing: list[str] = []
    for record_id in ids:
        record = await store.get_rejected(record_id)
        if record is None:
            missing.append(record_id)
        else:
            found.append(record)
    return found, missing


async def replay_rejected(
    queue: DialQueue,
    sources: Mapping[str, Source],
    records: Sequence[RejectedRecord],
    *,
    dedupe_seconds: float,
) -> ReplayOutcome:
    """Map each record again with ``sources`` and store what maps (module docstring)."""
    outcome = ReplayOutcome()
    for done, rec in enumerate(records, start=1):
        if done % _YIELD_EVERY == 0:
            await asyncio.sleep(0)
        source = sources.get(rec.source)
        if source is None:
            reason = f"source {rec.source!r} is no longer configured"
            outcome.still.append(StillRejected(rec.id, rec.source, reason, unconfigured=True))
            continue
        try:
            request = parse_request(
                rec.method, rec.content_type, rec.query, rec.body, decode=source.body_decoder
            )
            mapped = map_request(source, request)
        except (MappingError, UnsupportedMediaType, ValueError) as exc:
            outcome.still.append(StillRejected(rec.id, rec.source, str(exc)))
            continue
        if mapped.ignored is not None:  # nothing to store: the request needs no dial
            await queue.delete_rejected([rec.id])
            outcome.ignored += 1
            continue
        stored, _key = await store_mapped(queue, source, mapped, dedupe_seconds=dedupe_seconds)
        await queue.delete_rejected([rec.id])
        if stored != "duplicate":  # a leg merged into its call's held dial was kept too
            outcome.queued += 1
        else:
            outcome.duplicates += 1
    return outcome
