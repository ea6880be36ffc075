"""Legs of one call: how several reports of the same call become one Dial.

Some dialers report a call once per agent who handled it: Five9 fires its "On Call
Dispositioned" web connector for each agent who dispositions a transferred call, every time
with the same ``call_id``. The first agent's disposition ("Transferred To 3rd Party") is not the
call's outcome; the last agent's ("Sale") is. The relay merges such legs with one rule, used
live (``relay.core.pipeline.store_mapped``, through the queue's ``coalesce``) and by the
backfill (``relay.core.backfill``, for a Five9 Call Log with a row per leg):

* **The facts of the call** come from the first leg that has them: the numbers (``ani``,
  ``prospect_phone``), the time (``datetime``), the campaign, the direction, the lead's facts
  (``zip``, ``sys_created_date_original``, ``total_dial_attempts``, ``lead_source``). A later
  leg only fills a fact that every earlier leg left empty.
* **The outcome** comes from the last leg that has one: ``disposition_name``,
  ``agent_name``, ``skill_name`` (the agent who ended the call, and their skill). An empty
  value never erases an earlier one.

The rule is associative, so merging the legs one at a time as they arrive gives the same dial
as merging them all at once; merging a single leg changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import reduce
from typing import TypeVar

import orjson

from relay.core.dial import DIAL_FIELDS, Dial

__all__ = [
    "FACT_FIELDS",
    "OUTCOME_FIELDS",
    "merge_all",
    "merge_dials",
    "merge_legs",
    "merge_payloads",
]

V = TypeVar("V")

#: The outcome of the call: the last leg's non-empty value wins.
OUTCOME_FIELDS: tuple[str, ...] = ("disposition_name", "agent_name", "skill_name")
#: The facts of the call: the first leg's non-empty value stays.
FACT_FIELDS: tuple[str, ...] = tuple(f for f in DIAL_FIELDS if f not in OUTCOME_FIELDS)

_OUTCOMES = frozenset(OUTCOME_FIELDS)


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def merge_legs(earlier: Mapping[str, V], later: Mapping[str, V]) -> dict[str, V]:
    """``earlier`` (one leg, or the legs merged so far) with the ``later`` leg merged in.

    Keys keep ``earlier``'s order (a wire payload stays in the Dial's field order).
    """
    merged = dict(earlier)
    for name, value in later.items():
        if _empty(value):
            continue
        if name in _OUTCOMES or _empty(merged.get(name)):
            merged[name] = value
    return merged


def merge_all(legs: Iterable[Mapping[str, V]]) -> dict[str, V]:
    """Every leg merged, in the order given (at least one: the first is where they start)."""
    first, *later = legs
    return reduce(merge_legs, later, dict(first))


def merge_payloads(stored: bytes, leg: bytes) -> bytes:
    """The wire JSON of a held dial with a later leg's wire JSON merged in."""
    return orjson.dumps(merge_legs(orjson.loads(stored), orjson.loads(leg)))


def merge_dials(earlier: Dial, later: Dial) -> Dial:
    """Two legs of one call (same ``dial_id``) as one Dial."""
    return Dial.model_validate(merge_legs(earlier.model_dump(), later.model_dump()))
