"""Reject reasons: the same problem on different rows is one reason, counted."""

from __future__ import annotations

from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from relay.core.dial import build_dial
from relay.core.reason import OTHER_REASONS, RejectTally, reason
from relay.exceptions import MappingError, Problem
from tests.conftest import dial_body

words = st.text(st.characters(codec="utf-8", exclude_characters="'\"()"), max_size=30)


@given(field=st.sampled_from(["prospect_phone", "datetime", "body"]), message=words,
       value=st.text(max_size=40))  # fmt: skip
def test_the_value_quoted_after_got_is_not_part_of_the_reason(
    field: str, message: str, value: str
) -> None:
    """`… (got VALUE)` groups with every other value: only field and message remain."""
    shown = reason(Problem(field, f"{message} (got {value!r})"))
    assert shown == reason(Problem(field, f"{message} (got '******12')"))
    assert shown == reason(Problem(field, message))
    assert shown.startswith(field)


@given(a=st.text(max_size=20), b=st.text(max_size=20))
def test_quoted_literals_and_positions_do_not_split_a_reason(a: str, b: str) -> None:
    """`mapping 'x' failed: KeyError('y')` and a malformed-JSON position group together."""
    first = Problem("mapping", f"mapping {a!r} failed: KeyError({b!r})")
    assert reason(first) == "mapping: mapping '…' failed: KeyError('…')"
    json_at = Problem("body", f"malformed JSON at line {len(a)}, column {len(b)}: bad")
    assert reason(json_at) == "body: malformed JSON: bad"


@given(st.text(min_size=1, max_size=20).filter(lambda s: not any(c.isdigit() for c in s)))
def test_rows_with_different_bad_phones_share_a_reason(value: str) -> None:
    """Through the real normalizer: a phone without digits gives one of a few reasons,
    whatever the value was."""
    try:
        build_dial(dial_body(prospect_phone=value), source="crm", tz=UTC)
    except MappingError as exc:
        (problem,) = exc.problems
        assert reason(problem) in {
            "prospect_phone: required, but missing or empty",
            "prospect_phone: not a phone number",
            "prospect_phone: not a valid phone number",
            "prospect_phone: empty phone number",
        }


def test_tally_counts_records_per_reason_with_the_first_row() -> None:
    """A record counts once per reason; reasons sort by count; past the limit, the rest is
    one group."""
    tally = RejectTally(limit=2)
    phone = Problem("prospect_phone", "not a valid phone number (got ******12)")
    tally.add("a.csv", 2, [phone, Problem("prospect_phone", "not a valid phone number")])
    tally.add("a.csv", 5, [Problem("datetime", "required, but missing or empty")])
    tally.add("b.csv", 9, [Problem("prospect_phone", "not a valid phone number (got *1)")])
    tally.add("b.csv", 11, [Problem("zip", "bad"), Problem("ani", "worse")])
    assert tally.as_list() == [
        {"reason": "prospect_phone: not a valid phone number", "field": "prospect_phone",
         "count": 2, "first": {"file": "a.csv", "row": 2}},
        {"reason": "datetime: required, but missing or empty", "field": "datetime",
         "count": 1, "first": {"file": "a.csv", "row": 5}},
        {"reason": OTHER_REASONS, "field": "", "count": 1, "first": {"file": "b.csv", "row": 11}},
    ]  # fmt: skip
