"""The merge rule for the legs of one call: the first leg's facts, the last leg's outcome."""

from __future__ import annotations

from functools import reduce
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.core.dial import DIAL_FIELDS, Dial
from relay.core.legs import (
    FACT_FIELDS,
    OUTCOME_FIELDS,
    merge_all,
    merge_dials,
    merge_legs,
    merge_payloads,
)

VALUES = st.one_of(st.sampled_from(["", " ", "a", "b", "Sale", "5125550100"]), st.integers(0, 9))
LEG = st.tuples(*[VALUES] * len(DIAL_FIELDS)).map(lambda v: dict(zip(DIAL_FIELDS, v, strict=True)))
LEGS = st.lists(LEG, min_size=1, max_size=5)


def empty(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def test_the_fields_are_split_in_two() -> None:
    """Every Dials field is either a fact of the call or part of its outcome."""
    assert set(FACT_FIELDS) | set(OUTCOME_FIELDS) == set(DIAL_FIELDS)
    assert not set(FACT_FIELDS) & set(OUTCOME_FIELDS)
    assert set(OUTCOME_FIELDS) == {"disposition_name", "agent_name", "skill_name"}


@settings(max_examples=100)
@given(LEGS)
def test_merging_is_deterministic(legs: list[dict[str, Any]]) -> None:
    """The same legs in the same order always merge to the same dial, key order included."""
    once, again = merge_all(legs), merge_all([dict(leg) for leg in legs])
    assert list(once.items()) == list(again.items())
    assert list(once) == list(DIAL_FIELDS)


@settings(max_examples=100)
@given(LEG)
def test_merging_a_single_leg_is_identity(leg: dict[str, Any]) -> None:
    """One leg is the dial as it came."""
    assert merge_all([leg]) == leg
    assert merge_legs(leg, leg) == leg


@settings(max_examples=100)
@given(LEGS)
def test_the_first_legs_facts_never_change(legs: list[dict[str, Any]]) -> None:
    """A fact the first leg has stays; an empty one takes the first later leg that has it."""
    merged = merge_all(legs)
    for name in FACT_FIELDS:
        having = [leg[name] for leg in legs if not empty(leg[name])]
        assert merged[name] == (having[0] if having else legs[0][name])


@settings(max_examples=100)
@given(LEGS)
def test_the_last_non_empty_outcome_wins(legs: list[dict[str, Any]]) -> None:
    """Disposition, agent and skill are the last leg's that has them; an empty one erases
    nothing."""
    merged = merge_all(legs)
    for name in OUTCOME_FIELDS:
        having = [leg[name] for leg in legs if not empty(leg[name])]
        assert merged[name] == (having[-1] if having else legs[0][name])


@settings(max_examples=100)
@given(LEG, LEG, LEG)
def test_merging_one_leg_at_a_time_is_merging_them_all(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    """Associative: a held dial merged leg by leg (live) equals the legs merged at once."""
    assert merge_legs(merge_legs(a, b), c) == merge_legs(a, merge_legs(b, c))
    assert merge_all([a, b, c]) == reduce(merge_legs, [b, c], a)


def test_a_transferred_call() -> None:
    """The opener's numbers and time, the closer's Sale, agent and skill."""
    first = dial(disposition_name="Transferred To 3rd Party", agent_name="Al", lead_source="x")
    second = dial(
        disposition_name="Sale",
        agent_name="Cy",
        skill_name="Closers",
        prospect_phone="5125550999",
        datetime="2026-08-21 16:11:40",
        lead_source="",
    )
    merged = merge_dials(first, second)
    assert (merged.disposition_name, merged.agent_name, merged.skill_name) == (
        "Sale",
        "Cy",
        "Closers",
    )
    assert (merged.prospect_phone, merged.datetime, merged.lead_source) == (
        "5125550189",
        "2026-08-21 16:10:00",
        "x",
    )
    wire = merge_payloads(first.to_wire(), second.to_wire())
    assert wire == merged.to_wire()
    assert list(orjson.loads(wire)) == list(DIAL_FIELDS)


def dial(**fields: Any) -> Dial:
    values: dict[str, Any] = {
        "campaign_id": "",
        "campaign_name": "Q3",
        "agent_name": "",
        "ani": "5125550100",
        "disposition_name": "No Answer",
        "prospect_phone": "5125550189",
        "datetime": "2026-08-21 16:10:00",
        "call_direction": "Outbound",
        "zip": "",
        "sys_created_date_original": "",
        "total_dial_attempts": 2,
        "skill_name": "",
        "lead_source": "",
        "dial_id": "c-1",
    }
    return Dial(**{**values, **fields})
