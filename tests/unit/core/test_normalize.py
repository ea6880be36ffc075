"""Normalizers: examples from the vendors, and hypothesis properties for each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.normalize import (
    DEFAULT_DIRECTIONS,
    DIRECTIONS,
    MAX_ATTEMPTS,
    MAX_DIAL_ID_LENGTH,
    known_direction,
    lookup,
    normalize_attempts,
    normalize_date,
    normalize_datetime,
    normalize_dial_id,
    normalize_direction,
    normalize_phone,
    normalize_zip,
    parse_timestamp,
    rename,
    zone,
)

CHICAGO = zone("America/Chicago")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (512) 555-0187", "5125550187"),
        ("15125550187", "5125550187"),
        ("tel:+15125550187", "5125550187"),
        ("sip:+15125550187@host.example", "5125550187"),
        ("5125550187", "5125550187"),
        ("512.555.0187", "5125550187"),
        ("+44 20 7946 0958", "442079460958"),
        ("0044 20 7946 0958", "442079460958"),
        (5125550187, "5125550187"),
    ],
)
def test_phone_examples(raw: object, expected: str) -> None:
    """Documented phone shapes normalize to 10 NANP digits or E.164 digits."""
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "anonymous", "12", "+1 555", "tel:", "@Call.ANI@", "٥١٢٥٥٥٠١٨٧"]
)
def test_phone_rejects(raw: str) -> None:
    """Unreadable numbers raise instead of producing garbage."""
    with pytest.raises(ValueError, match="phone"):
        normalize_phone(raw)


nanp = st.tuples(
    st.sampled_from("23456789"),
    st.text("0123456789", min_size=2, max_size=2),
    st.sampled_from("23456789"),
    st.text("0123456789", min_size=6, max_size=6),
).map("".join)


@given(nanp, st.sampled_from(["{}", "1{}", "+1{}", "tel:+1{}", "sip:+1{}@pbx", "+1 ({a}) {b}-{c}"]))
def test_phone_nanp_forms_agree(number: str, form: str) -> None:
    """Every written form of a NANP number normalizes to the same 10 digits."""
    text = form.format(number, a=number[:3], b=number[3:6], c=number[6:])
    assert normalize_phone(text) == number


@given(st.text(max_size=30))
def test_phone_total(text: str) -> None:
    """Any text either normalizes to digits only, or raises ValueError; nothing else."""
    try:
        out = normalize_phone(text)
    except ValueError:
        return
    assert out.isdigit() and out.isascii() and 7 <= len(out) <= 15
    assert normalize_phone(out) == out or normalize_phone("+" + out) == out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-04-10T14:32:15Z", "2026-04-10 14:32:15"),
        ("2026-04-10T09:32:15-05:00", "2026-04-10 14:32:15"),
        ("2026-04-10 09:32:15", "2026-04-10 14:32:15"),  # Chicago, CDT
        ("2026-01-10 08:32:15", "2026-01-10 14:32:15"),  # Chicago, CST
        (1775831535, "2026-04-10 14:32:15"),
        ("1775831535", "2026-04-10 14:32:15"),
        (1775831535000, "2026-04-10 14:32:15"),
        ("1775831535123", "2026-04-10 14:32:15"),
        ("20260410093215123", "2026-04-10 14:32:15"),
        ("04/10/2026 09:32:15", "2026-04-10 14:32:15"),
        ("Fri, 10 Apr 2026 09:32:15", "2026-04-10 14:32:15"),
    ],
)
def test_datetime_examples(raw: object, expected: str) -> None:
    """Every documented timestamp form becomes UTC text; naive ones are in the source zone."""
    assert normalize_datetime(raw, CHICAGO) == expected


def test_datetime_dst_ambiguous_hour_is_first_occurrence() -> None:
    """01:30 on the fall-back night is read as the first (daylight) occurrence."""
    assert normalize_datetime("2026-11-01 01:30:00", CHICAGO) == "2026-11-01 06:30:00"


@pytest.mark.parametrize("raw", ["", "yesterday", "2026-13-40", "99999999999999999999", "nan"])
def test_datetime_rejects(raw: str) -> None:
    """Unreadable timestamps raise ValueError."""
    with pytest.raises(ValueError):
        normalize_datetime(raw)


moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@given(moments)
def test_datetime_round_trips_every_encoding(moment: datetime) -> None:
    """ISO, epoch s, epoch ms, Five9 17-digit and US forms of one instant agree."""
    expected = moment.strftime("%Y-%m-%d %H:%M:%S")
    local = moment.astimezone(CHICAGO).replace(tzinfo=None)
    forms: list[object] = [
        moment.isoformat(),
        moment.isoformat().replace("+00:00", "Z"),
        int(moment.timestamp()),
        str(int(moment.timestamp() * 1000)),
        local.strftime("%Y%m%d%H%M%S") + "000",
        local.strftime("%m/%d/%Y %H:%M:%S"),
    ]
    for form in forms:
        got = normalize_datetime(form, CHICAGO)
        if local.fold or _in_gap(local):
            # the wall clock is ambiguous or skipped; it still lands within the DST hour
            delta = datetime.fromisoformat(got) - moment.replace(tzinfo=None)
            assert abs(delta) <= timedelta(hours=1)
        else:
            assert got == expected, form


def _in_gap(local: datetime) -> bool:
    aware = local.replace(tzinfo=CHICAGO)
    return aware.astimezone(UTC).astimezone(CHICAGO).replace(tzinfo=None) != local or (
        local.replace(fold=1).replace(tzinfo=CHICAGO).utcoffset()
        != local.replace(fold=0).replace(tzinfo=CHICAGO).utcoffset()
    )


@given(st.one_of(st.text(max_size=25), st.integers(), st.floats()))
def test_datetime_total(value: object) -> None:
    """Any input gives the documented shape or ValueError, never another exception."""
    try:
        out = normalize_datetime(value)
    except ValueError:
        return
    assert datetime.strptime(out, "%Y-%m-%d %H:%M:%S")


EDGE_OF_TIME = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T01:00:00+14:00",
    "9999-12-31 23:59:59",  # naive: in Chicago, past 9999 in UTC
    "0001-01-01 00:00:00",
    "Fri, 31 Dec 9999 23:59:59 -1400",
    "99991231235959",
    "00010101000000000",
]


@pytest.mark.parametrize("raw", EDGE_OF_TIME)
@pytest.mark.parametrize("zone_name", ["UTC", "America/Chicago", "Pacific/Kiritimati"])
def test_times_past_the_calendar_are_value_errors(raw: str, zone_name: str) -> None:
    """A time whose conversion leaves years 1-9999 is a ValueError (a field error), never
    the OverflowError the conversion raises."""
    tz = zone(zone_name)
    for normalize in (normalize_datetime, normalize_date):
        try:
            out = normalize(raw, tz)
        except ValueError:
            continue
        assert out[:4].isdigit()


extreme_moments = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.sampled_from([datetime.min, datetime.max]) | st.datetimes(),
    st.integers(-24 * 60 + 1, 24 * 60 - 1),
)


@given(
    moment=extreme_moments,
    form=st.sampled_from(["iso", "rfc", "naive"]),
    zone_name=st.sampled_from(["UTC", "America/Chicago", "Pacific/Kiritimati", "Etc/GMT+12"]),
)
def test_any_moment_normalizes_or_is_a_value_error(
    moment: datetime, form: str, zone_name: str
) -> None:
    """Every moment of the calendar, with any offset, in any zone: the documented shape or a
    ValueError, never another exception."""
    raw = {
        "iso": moment.isoformat(),
        "rfc": moment.strftime("%a, %d %b %Y %H:%M:%S %z"),
        "naive": moment.replace(tzinfo=None).isoformat(" "),
    }[form]
    tz = zone(zone_name)
    try:
        out = normalize_datetime(raw, tz)
    except ValueError:
        pass
    else:
        assert datetime.strptime(out, "%Y-%m-%d %H:%M:%S")
    try:
        day = normalize_date(raw, tz)
    except ValueError:
        pass
    else:
        assert len(day) == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-04-01", "2026-04-01"),
        ("04/01/2026", "2026-04-01"),
        ("2026-04-01 23:30:00", "2026-04-01"),
        ("2026-04-02T03:30:00Z", "2026-04-01"),  # still April 1st in Chicago
        ("20260401", "2026-04-01"),
        (1775000000, "2026-03-31"),
    ],
)
def test_date_examples(raw: object, expected: str) -> None:
    """Lead-created dates come out as the calendar date in the source's zone."""
    assert normalize_date(raw, CHICAGO) == expected


@given(st.dates(min_value=datetime(1971, 1, 1).date()))
def test_date_round_trips(day: object) -> None:
    """A date in ISO or US form normalizes to itself."""
    iso = day.isoformat()  # type: ignore[attr-defined]
    us = day.strftime("%m/%d/%Y")  # type: ignore[attr-defined]
    assert normalize_date(iso, CHICAGO) == iso
    assert normalize_date(us, CHICAGO) == iso


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("78701", "78701"),
        ("78701-1234", "78701"),
        ("787011234", "78701"),
        ("2134", "02134"),
        (2134, "02134"),
        ("ABCDE", ""),
        ("123", ""),
        ("", ""),
        ("SW1A 1AA", ""),
    ],
)
def test_zip_examples(raw: object, expected: str) -> None:
    """ZIP+4 is cut to 5, spreadsheet-damaged 4-digit ZIPs are padded, the rest is empty."""
    assert normalize_zip(raw) == expected


@given(st.one_of(st.text(max_size=12), st.integers()))
def test_zip_shape(value: object) -> None:
    """The output is always 5 ASCII digits or empty."""
    out = normalize_zip(value)
    assert out == "" or (len(out) == 5 and out.isdigit() and out.isascii())


@given(st.text("0123456789", min_size=5, max_size=5), st.text("0123456789", min_size=4, max_size=4))
def test_zip_plus_four(five: str, four: str) -> None:
    """Any ZIP+4 keeps exactly its first five digits."""
    assert normalize_zip(f"{five}-{four}") == five


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("outbound", "Outbound"),
        ("AUTODIAL", "Outbound"),
        ("Predictive", "Outbound"),
        ("progressive", "Outbound"),
        ("power", "Outbound"),
        ("outbound-api", "Outbound"),  # Twilio's Direction
        ("outbound-dial", "Outbound"),
        ("Preview", "Treview"),
        ("OUTBOUND_PREVIEW", "Treview"),  # Five9's call-type code
        ("Treview", "Treview"),
        ("manual", "Manual"),
        ("AGENT", "Manual"),
        ("inbound", "Inbound"),
        ("INBOUND", "Inbound"),
        ("sms", "SMS"),
        ("Text", "SMS"),
        ("transfer", "Transfer"),
        ("3rd party transfer", "Transfer"),
        ("3WAY", "Transfer"),  # Convoso
        ("3-way", "Transfer"),
        ("Conference", "Transfer"),
        ("queue callback", "queue callback"),  # unknown: as sent, not re-cased
        ("3Way Call", "3Way Call"),
        ("  Queue   Callback ", "Queue Callback"),
        ("", ""),
    ],
)
def test_direction_examples(raw: str, expected: str) -> None:
    """The one direction table, whatever the case, `-`/`_` or spacing; unknown words pass."""
    assert normalize_direction(raw) == expected


def test_direction_override() -> None:
    """A source's table wins over the default one, and knows words the table does not."""
    assert normalize_direction("Queue Callback", {"queue callback": "Inbound"}) == "Inbound"
    assert normalize_direction("3WAY", {"3way": "Outbound"}) == "Outbound"
    assert known_direction("Queue Callback") is None
    assert known_direction("Queue Callback", {"QUEUE CALLBACK": "Outbound"}) == "Outbound"


words = st.one_of(
    st.text(max_size=20),
    st.sampled_from([*DEFAULT_DIRECTIONS, *DIRECTIONS, "3WAY", "outbound-api", "Queue Callback"]),
)


@given(words)
def test_direction_idempotent(value: str) -> None:
    """Normalizing twice changes nothing."""
    once = normalize_direction(value)
    assert normalize_direction(once) == once


@given(st.one_of(words, st.integers(), st.none(), st.floats()))
def test_direction_never_raises_and_is_the_table_or_the_word(value: object) -> None:
    """Every value gives outboundIQ's word (when the table knows it) or the word as sent."""
    out = normalize_direction(value)
    known = known_direction(value)
    assert out in DIRECTIONS if known is not None else out == " ".join(str(value).split())


@given(st.sampled_from(sorted(DEFAULT_DIRECTIONS)), st.data())
def test_direction_table_ignores_case_and_separators(key: str, data: st.DataObject) -> None:
    """Any upper/lower-case mix, and `-` or `_` for a space, is the same word."""
    sep = data.draw(st.sampled_from([" ", "-", "_"]))
    cased = "".join(c.upper() if data.draw(st.booleans()) else c for c in key)
    assert normalize_direction(cased.replace(" ", sep)) == DEFAULT_DIRECTIONS[key]


@given(st.integers(min_value=0, max_value=10**9))
def test_attempts_forms(n: int) -> None:
    """Integers, digit strings and integral float strings agree."""
    assert normalize_attempts(n) == normalize_attempts(str(n)) == normalize_attempts(f"{n}.0") == n


@pytest.mark.parametrize(
    "raw",
    ["-1", "abc", "2.5", "inf", True, "1e20", 2**64, "18446744073709551616", 1.8e19, 10**400],
)
def test_attempts_rejects(raw: object) -> None:
    """Negative, fractional and non-numeric attempts raise ValueError."""
    with pytest.raises(ValueError):
        normalize_attempts(raw)


@given(
    st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.integers(-(10**30), 10**30).map(str)
    | st.floats().map(repr)
)
def test_attempts_total(value: object) -> None:
    """Any input gives a whole number within 0..MAX_ATTEMPTS (one a 64-bit JSON encoder
    writes) or a ValueError, never another exception."""
    try:
        n = normalize_attempts(value)
    except ValueError:
        return
    assert 0 <= n <= MAX_ATTEMPTS < 2**63


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("call-1", "call-1"), ("  call-1 ", "call-1"), (300000010270763, "300000010270763")],
)
def test_dial_id_examples(raw: object, expected: str) -> None:
    """A vendor's id as text, trimmed; a number as its digits."""
    assert normalize_dial_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [{"a": 1}, [1, 2], True, "x" * (MAX_DIAL_ID_LENGTH + 1), "   ", 10**400, float("nan")],
)
def test_dial_id_rejects(raw: object) -> None:
    """Objects, lists, booleans, blank and over-long ids are refused."""
    with pytest.raises(ValueError):
        normalize_dial_id(raw)


@given(st.text(max_size=400) | st.integers() | st.floats())
def test_dial_id_total(value: object) -> None:
    """Any scalar gives a trimmed id of 1..MAX_DIAL_ID_LENGTH characters or a ValueError."""
    try:
        out = normalize_dial_id(value)
    except ValueError:
        return
    assert 0 < len(out) <= MAX_DIAL_ID_LENGTH and out == out.strip()


def test_parse_timestamp_naive_datetime_takes_zone() -> None:
    """A naive datetime object is read in the given zone."""
    got = parse_timestamp(datetime(2026, 1, 1, 12), CHICAGO)
    assert got.astimezone(UTC).hour == 18


def test_unknown_zone() -> None:
    """An unknown IANA name is a ValueError naming it."""
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone("Mars/Olympus")


@given(st.text("0123456789", min_size=10, max_size=11), st.booleans())
def test_phone_fast_path_agrees_with_phonenumbers(digits: str, plus: bool) -> None:
    """Where the NANP fast path answers, the full phonenumbers parse answers the same."""
    from relay.core.normalize import _nanp_fast_path, _via_phonenumbers

    fast = _nanp_fast_path(digits, plus)
    if fast is not None:
        assert fast == _via_phonenumbers(digits, plus)


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8), max_size=5),
    st.text(max_size=8),
)
def test_rename_is_a_case_insensitive_lookup(table: dict[str, str], value: str) -> None:
    """A value whose case-folded form is a key is renamed; any other value is kept."""
    matches = [v for k, v in table.items() if k.casefold() == value.casefold()]
    out = rename(value, table)
    if not value:
        assert out == ""
    elif value in table:
        assert out == table[value]
    elif matches:
        assert out in matches and lookup(table, value) == out
    else:
        assert out == value and lookup(table, value) is None


def _general_datetime(value: str, tz: tzinfo) -> str:
    """``normalize_datetime`` without its UTC ISO shortcut: the general parser's answer."""
    moment = parse_timestamp(value, tz).astimezone(UTC)
    return moment.isoformat(" ", "seconds")[:19]


_utc_iso_shapes = st.builds(
    lambda moment, sep: moment.strftime(f"%Y-%m-%d{sep}%H:%M:%SZ"),
    st.datetimes(min_value=datetime(1000, 1, 1)),
    st.sampled_from(["T", " "]),
)
# Strings of the shortcut's shape whose digits may be anything (month 13, hour 24, non-ASCII).
_utc_iso_lookalikes = st.builds(
    lambda d: f"{d[0]}-{d[1]}-{d[2]}T{d[3]}:{d[4]}:{d[5]}Z",
    st.tuples(
        *(
            st.text(st.characters(categories=["Nd"]) | st.just("x"), min_size=n, max_size=n)
            for n in (4, 2, 2, 2, 2, 2)
        )
    ),
)


@given(
    raw=_utc_iso_shapes | _utc_iso_lookalikes, zone_name=st.sampled_from(["UTC", "America/Chicago"])
)
def test_utc_iso_shortcut_agrees_with_the_general_parser(raw: str, zone_name: str) -> None:
    """``YYYY-MM-DDTHH:MM:SSZ`` takes a shortcut in ``normalize_datetime``: for every string
    of that shape it gives what the general parser gives, the same answer or a ValueError."""
    tz = zone(zone_name)
    try:
        expected: str | None = _general_datetime(raw, tz)
    except ValueError:
        expected = None
    try:
        got: str | None = normalize_datetime(raw, tz)
    except ValueError:
        got = None
    assert got == expected, raw
