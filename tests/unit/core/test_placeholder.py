"""The placeholder detector: every vendor's unrendered template text, and no real value."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.placeholder import (
    any_placeholder,
    any_placeholder_in_text,
    first_set,
    is_placeholder,
    unrendered,
)


@pytest.mark.parametrize(
    "value",
    [
        "@Call.skill_name@",  # Five9 Web Connector
        "@Contact.lead source@",
        "@Acme_Fields.Region@",  # a whole value of Five9's shape, any group
        "@Contact.first_name@ @Contact.last_name@",
        "--A--called_count--B--",  # VICIdial Dispo Call URL
        "VAR--A--dispo--B--",
        "${input.campaignId}",  # Velocity, formal notation (Genesys Data Actions)
        "$!{input.campaignId}",
        "$esc.jsonString(${input.campaignId})",
        "$esc.jsonString($input.campaignId)",
        "$input.campaignId",
        "$!esc.jsonString($input.x)",
        "2026-03-14T${input.time}",  # a partly rendered value is no value either
        "{{lead.phone_number}}",  # Mustache / Handlebars
        "{{{ agent }}}",
        "[None]",  # printed nulls
        "[null]",
        "(null)",
        "null",
        "NULL",
        "undefined",
        "  <none> ",
    ],
)
def test_placeholders_of_every_kind(value: str) -> None:
    """Each vendor's unrendered form is a placeholder, stripped as reported."""
    assert is_placeholder(value)
    assert unrendered(value) == value.strip()


@pytest.mark.parametrize(
    "value",
    [
        "5125550187",
        "+1 (512) 555-0187",
        "tel:+15125550187",
        "sip:+15125550187@carrier.example.com",
        "2026-08-21 16:00:06",
        "20260821160006123",
        "Fri, 21 Aug 2026 09:00:06",
        "Ca$h Flow Partners",
        "US$ 5.00 promo",
        "$5.99 special",
        "ops@acme.com",
        "J@ne Doe",
        "@home",
        "Jane.Doe@Call.Center",  # an e-mail, not @Call.x@: it does not end with @
        "{campaign}",
        "Sale",
        "None",  # a word a person might type; only the printed forms above are nulls
        "Nan",
        "--A--",
        "A--B",
        "",
        "   ",
    ],
)
def test_real_values_are_never_placeholders(value: str) -> None:
    """Phones, dates, names and e-mails with $ or @ inside are values."""
    assert not is_placeholder(value)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.binary(max_size=8)))
def test_only_strings_can_be_placeholders(value: object) -> None:
    """A non-string value (a JSON number, null, ...) is never a placeholder."""
    assert not is_placeholder(value)


@given(st.text(max_size=60))
def test_never_raises_and_agrees_with_itself(value: str) -> None:
    """Any text is checked without error; the reported text is itself a placeholder."""
    text = unrendered(value)
    assert (text is not None) == is_placeholder(value)
    if text is not None:
        assert text == value.strip() and is_placeholder(text)


phones = st.builds(
    lambda area, number, style: style.format(a=area, n=number, d=number[:3], l=number[3:]),
    st.integers(201, 989).map(str),
    st.integers(0, 9_999_999).map(lambda n: f"{n:07d}"),
    st.sampled_from(["{a}{n}", "({a}) {d}-{l}", "+1{a}{n}", "1-{a}-{d}-{l}", "tel:+1{a}{n}"]),
)
dates = st.builds(
    lambda moment, fmt: moment.strftime(fmt),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)),
    st.sampled_from(
        ["%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%m/%d/%Y %I:%M %p", "%Y-%m-%dT%H:%M:%S%z"]
    ),
)
word = st.text(st.characters(categories=["L"]), min_size=1, max_size=8)
names = st.builds(
    lambda first, mark, last: f"{first}{mark}{last}",
    word,
    st.sampled_from(["", " ", "$", "@", " $", "@ ", ".", "-", "'"]),
    word,
)
emails = st.builds(lambda user, host: f"{user}@{host}.com", word, word)
real_values = st.one_of(phones, dates, names, emails)


@given(real_values)
def test_a_real_value_is_never_emptied(value: str) -> None:
    """Generated phones, dates, and names or e-mails with `$` or `@` inside stay values."""
    assert not is_placeholder(value)
    assert first_set(value) == value.strip()


tokens = st.one_of(
    st.from_regex(r"@(Call|Contact|Agent)\.[a-z_]{1,10}@", fullmatch=True),
    st.from_regex(r"--A--[a-z_]{1,12}--B--", fullmatch=True),
    st.from_regex(r"\$!?\{input\.[a-zA-Z]{1,10}\}", fullmatch=True),
    st.from_regex(r"\{\{ ?[a-z.]{1,10} ?\}\}", fullmatch=True),
)


@given(tokens, st.sampled_from(["", " ", '"', "x "]), st.sampled_from(["", " ", '"', " y"]))
def test_a_token_anywhere_makes_a_placeholder(token: str, before: str, after: str) -> None:
    """A value holding a template token, alone or with text around it, is no value."""
    assert is_placeholder(before + token + after)


@given(st.lists(st.one_of(real_values, tokens, st.just("")), max_size=4))
def test_first_set_prefers_a_real_value(values: list[str]) -> None:
    """first_set gives the first real value; else the first placeholder; else ""."""
    out = first_set(*values)
    real = [v.strip() for v in values if v.strip() and not is_placeholder(v)]
    held = [v.strip() for v in values if is_placeholder(v)]
    assert out == (real[0] if real else held[0] if held else "")
    assert first_set(out) == out  # idempotent


printed_nulls = st.builds(
    lambda word, pad: pad + "".join(c.upper() if i % 2 else c for i, c in enumerate(word)) + pad,
    st.sampled_from(["null", "undefined", "[none]", "(null)", "<none>"]),
    st.sampled_from(["", " ", "  "]),
)
any_value = st.one_of(
    real_values, tokens, printed_nulls, st.text(max_size=12), st.integers(), st.none()
)


@given(st.lists(any_value, max_size=16))
def test_the_quick_scan_never_misses_a_placeholder(values: list[object]) -> None:
    """``any_placeholder`` may say yes to real values (each is then checked on its own), but
    never no to values that hold a placeholder; on text alone ``any_placeholder_in_text``
    says the same."""
    if any(is_placeholder(v) for v in values):
        assert any_placeholder(values)
        assert any_placeholder(dict(enumerate(values)).values())
    texts = [v for v in values if isinstance(v, str)]
    assert any_placeholder_in_text(texts) == any_placeholder(values)
