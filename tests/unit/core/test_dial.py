"""build_dial: defaults, required fields, dial ids, and the exact wire shape."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.dial import (
    _NORMALIZERS,
    DIAL_FIELDS,
    MEMO_SIZE,
    Dial,
    _memo,
    build_dial,
    synthetic_dial_id,
)
from relay.core.normalize import (
    normalize_attempts,
    normalize_date,
    normalize_direction,
    normalize_phone,
    normalize_zip,
    zone,
)
from relay.exceptions import MappingError
from tests.conftest import dial_body

UTC = zone("UTC")


def test_wire_shape_is_exactly_the_documented_fields() -> None:
    """The body sent to outboundIQ has the 14 documented keys and nothing else."""
    dial = build_dial(dial_body(), source="crm", tz=UTC)
    wire = orjson.loads(dial.to_wire())
    assert sorted(wire) == sorted(
        [
            "campaign_id",
            "campaign_name",
            "agent_name",
            "ani",
            "disposition_name",
            "prospect_phone",
            "datetime",
            "call_direction",
            "zip",
            "sys_created_date_original",
            "total_dial_attempts",
            "skill_name",
            "lead_source",
            "dial_id",
        ]
    )
    assert wire["ani"] == "5125550100"
    assert wire["prospect_phone"] == "5125550187"
    assert wire["datetime"] == "2026-04-10 14:32:15"
    assert wire["call_direction"] == "Outbound"
    assert wire["zip"] == "78701"
    assert wire["total_dial_attempts"] == 3


def test_keys_outboundiq_does_not_document_never_reach_the_wire() -> None:
    """A Dial holds the documented fields only: build_dial refuses another key (the field's
    problem, a 422), the model leaves one out, and the schema forbids them."""
    body = {**dial_body(), "from_number": "1"}
    with pytest.raises(MappingError, match="from_number: not a Dials field"):
        build_dial(body, source="s", tz=UTC)
    data = orjson.loads(build_dial(dial_body(), source="s", tz=UTC).to_wire())
    dial = Dial.model_validate({**data, "from_number": "1"})
    assert orjson.loads(dial.to_wire()) == data
    assert list(orjson.loads(dial.to_wire())) == list(DIAL_FIELDS)
    assert Dial.model_json_schema()["additionalProperties"] is False


def test_required_fields_listed_together() -> None:
    """Every missing required field is reported at once, by name."""
    with pytest.raises(MappingError) as info:
        build_dial({"campaign_id": "x"}, source="s", tz=UTC)
    fields = {p.field for p in info.value.problems}
    assert fields == {"ani", "prospect_phone", "datetime", "disposition_name"}


def test_defaults_fill_empty_fields() -> None:
    """Empty fields take the source's defaults, else the empty string."""
    dial = build_dial(
        dial_body(lead_source="", skill_name=None, ani=""),
        source="s",
        tz=UTC,
        defaults={"lead_source": "crm", "ani": "5125550100"},
    )
    assert dial.lead_source == "crm"
    assert dial.skill_name == ""
    assert dial.ani == "5125550100"


def test_synthetic_dial_id_is_deterministic() -> None:
    """Without a vendor id, the same source and payload give the same UUIDv5."""
    body = dial_body(dial_id="")
    a = build_dial(body, source="crm", tz=UTC)
    b = build_dial(dict(body), source="crm", tz=UTC)
    c = build_dial(body, source="other", tz=UTC)
    assert a.dial_id == b.dial_id != c.dial_id
    assert len(a.dial_id) == 36
    assert synthetic_dial_id("crm", {"x": 1, "dial_id": "ignored"}) == synthetic_dial_id(
        "crm", {"x": 1}
    )


def test_problem_never_echoes_a_whole_phone_number() -> None:
    """A bad phone value is quoted masked to its last 4 digits."""
    with pytest.raises(MappingError) as info:
        build_dial(dial_body(prospect_phone="12345678901234567890"), source="s", tz=UTC)
    text = str(info.value)
    assert "12345678901234567890" not in text
    assert "7890" in text


def test_unknown_field_from_mapping_is_a_problem() -> None:
    """A mapping that emits a non-Dials field is told so."""
    with pytest.raises(MappingError, match="not a Dials field"):
        build_dial({**dial_body(), "from_number": "1"}, source="s", tz=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dial_id", {"a": 1}),
        ("dial_id", ["call-1"]),
        pytest.param("dial_id", "x" * 250_000, id="dial_id-250KB"),
        pytest.param("dial_id", 10**400, id="dial_id-400-digits"),
        ("total_dial_attempts", "1e20"),
        ("total_dial_attempts", 2**64),
        ("datetime", "9999-12-31T23:59:59-14:00"),
        ("datetime", "0001-01-01T01:00:00+14:00"),
        ("sys_created_date_original", "9999-12-31T23:59:59-14:00"),
        pytest.param("campaign_name", 10**5000, id="more digits than str() writes"),
    ],
)
def test_values_past_every_limit_are_field_problems(field: str, value: object) -> None:
    """Objects as ids, over-long ids, numbers and times past what can be stored or converted:
    each a MappingError naming the field (a 422, kept for replay), quoted briefly."""
    with pytest.raises(MappingError) as info:
        build_dial(dial_body(**{field: value}), source="s", tz=zone("America/Chicago"))
    assert [p.field for p in info.value.problems] == [field]
    assert len(str(info.value)) < 300


def test_a_normalizer_crash_is_a_field_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a normalizer raises becomes that field's problem, never a crash."""

    def broken(_raw: object) -> str:
        raise ArithmeticError("boom")

    monkeypatch.setattr("relay.core.dial.normalize_phone", broken)
    with pytest.raises(MappingError) as info:
        build_dial(dial_body(), source="s", tz=UTC)
    problems = {p.field: p.problem for p in info.value.problems}
    assert problems["prospect_phone"] == "cannot be read (ArithmeticError) (got ******0187)"


def test_dial_fields_order_matches_document() -> None:
    """The field order follows the documented payload."""
    assert DIAL_FIELDS[0] == "campaign_id" and DIAL_FIELDS[-1] == "dial_id"


_REPEATING = ("ani", "zip", "sys_created_date_original", "call_direction", "total_dial_attempts")


@given(
    st.dictionaries(
        st.sampled_from(_REPEATING),
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(["+1 (512) 555-0100", "78701-1234", "2026-04-01", "3", "manual"]),
        ),
    ),
    st.sampled_from(["UTC", "America/Chicago", "Asia/Kolkata"]),
)
def test_remembered_normalizers_answer_like_the_normalizers(
    fields: dict[str, str], timezone: str
) -> None:
    """The memos on repeating fields give what the normalizers give (or the same problem),
    the first time and every time after; a failure is never remembered as a value."""
    tz = zone(timezone)
    for name, raw in fields.items():
        direct = _NORMALIZERS_UNMEMOIZED[name]
        try:
            expected: object = direct(raw, tz)
        except ValueError as exc:
            expected = ("error", str(exc))
        for _ in range(2):
            try:
                got: object = _NORMALIZERS[name](raw, tz, None)
            except ValueError as exc:
                got = ("error", str(exc))
            assert got == expected


_NORMALIZERS_UNMEMOIZED = {
    "ani": lambda raw, _tz: normalize_phone(raw),
    "zip": lambda raw, _tz: normalize_zip(raw),
    "sys_created_date_original": normalize_date,
    "call_direction": lambda raw, _tz: normalize_direction(raw),
    "total_dial_attempts": lambda raw, _tz: normalize_attempts(raw),
}


def test_memo_is_bounded() -> None:
    """A memo keeps at most MEMO_SIZE entries, however many distinct values arrive."""
    calls: list[object] = []

    def count(raw: object, _tz: object, _d: object) -> str:
        calls.append(raw)
        return str(raw)

    remembered = _memo(count)
    tz = zone("UTC")
    for n in range(MEMO_SIZE * 2 + 10):
        assert remembered(f"v{n}", tz, None) == f"v{n}"
    assert remembered("v1", tz, None) == "v1"
    closure = remembered.__closure__
    assert closure is not None
    sizes = [len(c.cell_contents) for c in closure if isinstance(c.cell_contents, dict)]
    assert sizes and max(sizes) <= MEMO_SIZE
    assert remembered(f"v{MEMO_SIZE * 2 + 9}", tz, None) and calls.count("v1") == 2


@given(st.sampled_from(["SALE", "sale", "Sale", " sAlE "]))
def test_dispositions_rename_codes_in_any_case(code: str) -> None:
    """The source's `dispositions` table names a vendor's code whatever its case; a code not
    in the table, and a source without one, keep the code."""
    table = {"SALE": "Sale Made", "NI": "Not Interested"}
    dial = build_dial(dial_body(disposition_name=code), source="s", tz=UTC, dispositions=table)
    assert dial.disposition_name == "Sale Made"
    other = build_dial(dial_body(disposition_name="DNC"), source="s", tz=UTC, dispositions=table)
    assert other.disposition_name == "DNC"
    assert build_dial(dial_body(disposition_name=code), source="s", tz=UTC).disposition_name == (
        code.strip()
    )
