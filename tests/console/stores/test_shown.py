"""A rejected request as the console shows it: whatever it holds, no secret and no phone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from relay.console.rejected import shown_request
from relay.console.stores import valid_ids
from relay.core.sources import parse_sources
from relay.queue.base import RejectedRecord
from tests.log_guard import unmasked_test_phones

QS_SECRET = "qs-hook-secret-123"
BT_SECRET = "bt-hook-secret-456"
SOURCES = parse_sources(
    f"""
sources:
  qs: {{mapping: generic, auth: {{type: query, param: key, secret: {QS_SECRET}}}}}
  bt: {{mapping: generic, auth: {{type: body-token, path: token, secret: {BT_SECRET}}}}}
""",
    env={},
    default_api_key=SecretStr("oiq-default-key-0001"),
)
SECRETS = [QS_SECRET, BT_SECRET]
PHONES = ["512-555-0187", "+1 (512) 555-0100", "5125550123", "(512) 555 0199"]

# Text without digits, so a phone placed in it stays a phone (not part of a longer number).
words = st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=12)
value = st.one_of(words, st.sampled_from(PHONES + SECRETS), words.map(lambda w: w + QS_SECRET))
names = st.sampled_from(["prospect_phone", "ani", "note", "key", "token", "api_key", "x", "notes"])
flat = st.dictionaries(names, value, max_size=6)
nested = st.dictionaries(names, st.one_of(value, flat, st.lists(value, max_size=3)), max_size=5)


def record(source: str, content_type: str, query: dict[str, str], body: bytes) -> RejectedRecord:
    return RejectedRecord(
        id="1",
        source=source,
        received_at=0.0,
        method="POST",
        content_type=content_type,
        query=query,
        body=body,
    )


def assert_safe(rec: RejectedRecord, configured: bool) -> None:
    shown = shown_request(rec, SOURCES[rec.source] if configured else None, SECRETS)
    texts = [shown.body, shown.summary, *(f"{k}={v}" for k, v in shown.query)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert unmasked_test_phones(text) == []


@given(query=flat, doc=nested, source=st.sampled_from(["qs", "bt"]), configured=st.booleans())
def test_a_json_request_never_shows_a_secret_or_a_phone(
    query: dict[str, str], doc: dict[str, Any], source: str, configured: bool
) -> None:
    body = orjson.dumps(doc)
    assert_safe(record(source, "application/json", query, body), configured)


@given(query=flat, form=flat, configured=st.booleans())
def test_a_form_request_never_shows_a_secret_or_a_phone(
    query: dict[str, str], form: dict[str, str], configured: bool
) -> None:
    body = urlencode(form).encode()
    assert_safe(record("qs", "application/x-www-form-urlencoded", query, body), configured)


@given(
    text=st.tuples(st.lists(value, max_size=6), st.sampled_from([", ", " ", "-"])).map(
        lambda parts: parts[1].join(parts[0])
    ),
    configured=st.booleans(),
)
def test_a_text_body_never_shows_a_secret_or_a_phone(text: str, configured: bool) -> None:
    assert_safe(record("qs", "text/plain", {}, text.encode()), configured)


def test_a_json_escape_does_not_spell_a_secret_out() -> None:
    escaped = QS_SECRET.replace("q", "\\u0071")
    rec = record("bt", "application/json", {}, f'{{"note": "{escaped}"}}'.encode())
    assert QS_SECRET not in shown_request(rec, SOURCES["bt"], SECRETS).body


@given(st.lists(st.text(max_size=70), max_size=8))
def test_only_well_formed_ids_are_kept_once_each(values: list[str]) -> None:
    kept = valid_ids(values)
    assert len(kept) == len(set(kept))
    for record_id in kept:
        assert record_id in values and 0 < len(record_id) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in record_id)
    assert valid_ids(["12", "1733544686123-0", "../x", "a:b", "12"]) == ["12", "1733544686123-0"]
