"""The vendor-value screen: placeholders emptied and unknown directions flagged, as findings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from relay.core.dial import DIAL_FIELDS
from relay.core.screening import Finding, screen_fields

_field = st.sampled_from(DIAL_FIELDS)
_value = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["@Call.ANI@", "--A--dispo--B--", "${input.x}", "{{x}}", "null", "Sale"]),
    st.integers(),
    st.none(),
)


def test_placeholders_are_emptied_each_with_a_finding() -> None:
    """Every field holding a placeholder is "" afterwards and named in one finding."""
    fields = {"ani": "@Call.ANI@", "zip": "78701", "lead_source": "{{source}}"}
    screened, findings = screen_fields(fields)
    assert screened == {"ani": "", "zip": "78701", "lead_source": ""}
    assert findings == [
        Finding("placeholder", "ani", "@Call.ANI@"),
        Finding("placeholder", "lead_source", "{{source}}"),
    ]
    assert findings[0].warning == "ani: @Call.ANI@ did not substitute (treated as empty)"


def test_reported_placeholders_join_once() -> None:
    """A placeholder the mapping skipped itself is a finding too, never twice."""
    _, findings = screen_fields(
        {"ani": "@Call.ANI@", "zip": ""}, reported={"ani": "@Call.ANI@", "zip": " [None] "}
    )
    assert findings == [
        Finding("placeholder", "ani", "@Call.ANI@"),
        Finding("placeholder", "zip", "[None]"),
    ]


def test_unknown_direction_is_kept_and_flagged_unless_the_source_knows_it() -> None:
    """A word outside the table stays as sent with a finding; the source's table knows it."""
    screened, findings = screen_fields({"call_direction": " Queue  Callback"})
    assert screened["call_direction"] == " Queue  Callback"  # build_dial normalizes spacing
    assert findings == [Finding("unknown", "call_direction", "Queue Callback")]
    assert findings[0].warning.startswith("call_direction: 'Queue Callback' is not in outbound")
    _, known = screen_fields(
        {"call_direction": "Queue Callback"}, directions={"queue callback": "Outbound"}
    )
    assert known == []
    _, table = screen_fields({"call_direction": "3WAY"})
    assert table == []


def test_a_phone_number_in_a_warning_is_masked() -> None:
    """A warning never spells out a phone number (it is logged)."""
    [finding] = screen_fields({"call_direction": "5125550187"})[1]
    assert "5125550187" not in finding.warning and "0187" in finding.warning


@given(st.dictionaries(_field, _value, max_size=6))
def test_screening_is_idempotent_and_keeps_real_values(fields: dict[str, object]) -> None:
    """A second screen finds no placeholder; a value that was no placeholder is unchanged."""
    once, findings = screen_fields(fields)
    twice, again = screen_fields(once)
    assert twice == once
    assert [f for f in again if f.kind == "placeholder"] == []
    emptied = {f.field for f in findings if f.kind == "placeholder"}
    for name, value in fields.items():
        assert once[name] == ("" if name in emptied else value)
