"""Provenance (``relay.core.provenance.explain``): where each Dials field came from."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from relay.core.dial import DIAL_FIELDS
from relay.core.mapping import ExplainsFields, InboundRequest, MappingContext, MappingResult
from relay.core.pipeline import FORM_TYPE, parse_request
from relay.core.preview import preview_request
from relay.core.provenance import Explanation, explain, explain_raw
from relay.core.sources import Source, parse_sources
from relay.core.usage import MAX_PROBES
from tests.conftest import DEFAULT_KEY

SOURCES = """
sources:
  crm:
    auth: {type: header, secret: crm-hook-secret-0001}
    timezone: America/Chicago
    defaults: {lead_source: crm, zip: "73301"}
    dispositions: {SALE: Sale, NA: No Answer}
    call_directions: {OB: Outbound}
    options:
      fields:
        disposition_name: "result || outcome"
        call_direction: call.dir
        ani: call.from
        prospect_phone: call.to
        datetime: call.at
        campaign_name: {path: camp, transform: title}
        skill_name: {const: sales}
  vici:
    mapping: vicidial
    auth: {type: none}
    timezone: America/New_York
    options:
      fields: {ani: {path: group || campaign, lookup: {SPRING: "5125550100"}}}
  f9: {mapping: five9, auth: {type: query, secret: f9-hook-secret-0001}}
  tw:
    mapping: twilio
    auth: {type: none}
    dispositions: {completed: Connected, no-answer: No Answer}
"""


@functools.cache
def _sources() -> dict[str, Source]:
    return parse_sources(SOURCES, env={}, default_api_key=SecretStr(DEFAULT_KEY))


def _json(data: dict[str, Any]) -> InboundRequest:
    return parse_request("POST", "application/json", {}, orjson.dumps(data))


def _form(data: dict[str, str], query: dict[str, str] | None = None) -> InboundRequest:
    return parse_request("POST", FORM_TYPE, query or {}, urlencode(data).encode())


CRM_BODY: dict[str, Any] = {
    "call": {"from": "(512) 555-0100", "to": "5125550187", "at": "2026-08-03 09:00:06",
             "dir": "ob", "leg": 2},
    "result": "sale",
    "outcome": "ignored",
    "camp": "spring push",
    "zip": "{{lead.zip}}",
    "note": "hello",
}  # fmt: skip


def test_each_field_says_its_inputs_expression_raw_and_step() -> None:
    """A JSON body through expressions: a phone normalised, a direction and a disposition
    renamed by the source's tables, a nested key reported dotted, a const with no input."""
    explained = explain(_sources()["crm"], _json(CRM_BODY))
    assert explained.status == "ok"
    assert [t.name for t in explained.fields] == list(DIAL_FIELDS)
    ani = explained.field("ani")
    assert (ani.inputs, ani.expression, ani.raw) == (["call.from"], "call.from", "(512) 555-0100")
    assert (ani.value, ani.changed_by) == ("5125550100", "normalize_phone")
    disposition = explained.field("disposition_name")
    assert disposition.inputs == ["result"]  # `outcome` is a fallback, not read here
    assert (disposition.raw, disposition.value) == ("sale", "Sale")
    assert disposition.changed_by == "dispositions table"
    direction = explained.field("call_direction")
    assert (direction.raw, direction.value) == ("ob", "Outbound")
    assert direction.changed_by == "call_directions table"
    when = explained.field("datetime")
    assert (when.value, when.changed_by) == ("2026-08-03 14:00:06", "normalize_datetime")
    campaign = explained.field("campaign_name")
    assert (campaign.expression, campaign.value) == ("camp | transform title", "Spring Push")
    assert campaign.changed_by is None  # the mapping's transform, not the relay's step
    skill = explained.field("skill_name")
    assert (skill.inputs, skill.expression, skill.value) == ([], "const 'sales'", "sales")
    assert explained.preview.unused == ["call.leg", "outcome", "note"]


def test_a_placeholder_emptied_and_a_default_filling_a_field() -> None:
    """`{{lead.zip}}` is emptied (its warning beside zip) and the source's default fills it;
    lead_source, sent by nobody, is the default too; dial_id is made up."""
    explained = explain(_sources()["crm"], _json(CRM_BODY))
    zip_code = explained.field("zip")
    assert zip_code.inputs == ["zip"]
    assert (zip_code.raw, zip_code.value, zip_code.default) == ("{{lead.zip}}", "73301", True)
    assert zip_code.changed_by is not None
    assert zip_code.changed_by.startswith("placeholder emptied")
    assert zip_code.warnings == ["zip: {{lead.zip}} did not substitute (treated as empty)"]
    lead = explained.field("lead_source")
    assert (lead.value, lead.default, lead.raw, lead.inputs) == ("crm", True, None, [])
    assert explained.field("dial_id").changed_by == "synthetic_dial_id (none sent)"
    assert explained.field("campaign_id").warnings == ["campaign_id is empty"]
    assert explained.general_warnings == []


def test_a_preset_describes_its_fields_and_its_fallbacks() -> None:
    """VICIdial's preset: `dialed_number || phone_number` feeds prospect_phone from the
    first key set; the unset default direction comes from the preset's own default."""
    vici = _sources()["vici"]
    assert isinstance(vici.mapping, ExplainsFields)
    body = {"call_id": "V1", "phone_number": "512-555-0187", "dispo": "SALE",
            "epoch": "1785747606", "user": "jdoe", "campaign": "SPRING"}  # fmt: skip
    explained = explain(vici, _form(body))
    phone = explained.field("prospect_phone")
    assert phone.expression == "dialed_number || phone_number"
    assert (phone.inputs, phone.value, phone.changed_by) == (
        ["phone_number"],
        "5125550187",
        "normalize_phone",
    )
    direction = explained.field("call_direction")
    assert direction.expression == "direction | default 'Outbound'"
    assert (direction.inputs, direction.value) == ([], "Outbound")
    assert explained.field("campaign_id").inputs == ["campaign"]
    assert explained.field("campaign_name").inputs == ["campaign"]
    ani = explained.field("ani")  # the source's options over the preset's
    assert ani.expression == "group || campaign | lookup (1 values)"
    assert (ani.inputs, ani.value) == (["campaign"], "5125550100")


def test_five9_form_without_expressions_still_finds_inputs() -> None:
    """Five9 (code, no ExplainsFields): inputs found by probing; the unfilled Five9 variable
    is emptied and warned about beside lead_source; an empty dnis falls back to number."""
    params = {"call_id": "300000010270763", "ani": "5125550100", "dnis": "",
              "number": "(512) 555-0187", "disposition_name": "Sale", "type_name": "Outbound",
              "start_timestamp": "20260803090006000", "lead_source": "@Contact.lead source@",
              "worksheet": "x"}  # fmt: skip
    explained = explain(_sources()["f9"], _form(params))
    assert explained.status == "ok"
    assert all(t.expression is None for t in explained.fields)
    phone = explained.field("prospect_phone")
    assert (phone.inputs, phone.value, phone.changed_by) == (
        ["number"],
        "5125550187",
        "normalize_phone",
    )
    assert explained.field("dial_id").inputs == ["call_id"]
    lead = explained.field("lead_source")
    assert (lead.value, lead.changed_by) == ("", "placeholder emptied")
    assert lead.warnings[0].startswith("lead_source: @Contact.lead source@ did not substitute")
    tz = [w for w in explained.field("datetime").warnings if "no UTC offset" in w]
    assert len(tz) == 1  # the time zone guessed, beside datetime


def test_twilio_form_query_and_disposition_table() -> None:
    """Twilio's status callback (a form, campaign in the callback URL's query): CallStatus
    renamed by the source's dispositions; campaign_name's input is the query parameter."""
    form = {"CallSid": "CA0123456789abcdef0123456789abcdef", "CallStatus": "completed",
            "Direction": "outbound-api", "From": "+15125550100", "To": "+15125550187",
            "Timestamp": "Mon, 03 Aug 2026 14:00:36 +0000", "CallDuration": "30"}  # fmt: skip
    explained = explain(_sources()["tw"], _form(form, {"campaign_name": "Spring"}))
    assert explained.status == "ok", explained.preview.errors
    disposition = explained.field("disposition_name")
    assert (disposition.inputs, disposition.raw, disposition.value) == (
        ["CallStatus"],
        "completed",
        "Connected",
    )
    assert disposition.changed_by == "dispositions table"
    assert explained.field("campaign_name").inputs == ["campaign_name"]
    assert explained.field("dial_id").inputs == ["CallSid"]
    assert explained.field("datetime").value == "2026-08-03 14:00:06"


def test_a_rejected_request_puts_each_problem_beside_its_field() -> None:
    """A 422: no values, each problem beside the field it names."""
    body = {**CRM_BODY, "call": {**CRM_BODY["call"], "to": "12", "at": ""}}
    explained = explain(_sources()["crm"], _json(body))
    assert explained.status == "rejected"
    assert explained.dial is None
    assert explained.field("prospect_phone").errors
    assert explained.field("datetime").errors == ["required, but missing or empty"]
    assert all(t.value is None for t in explained.fields)
    assert explained.field("prospect_phone").inputs == ["call.to"]


def test_an_ignored_request_has_no_values() -> None:
    form = {"CallSid": "CA1", "CallStatus": "ringing", "Direction": "inbound"}
    explained = explain(_sources()["tw"], _form(form))
    assert explained.status == "ignored"
    assert all(t.value is None and t.inputs == [] for t in explained.fields)


class _Counting:
    """A mapping that counts its runs (the probes), delegating to another."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.runs = 0

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        self.runs += 1
        result: MappingResult = self.inner.map(request, context)
        return result


def test_probes_are_bounded_for_a_large_body() -> None:
    """A body of 3000 keys: the preview's probes and explain's are each at most MAX_PROBES;
    the keys searched are still attributed."""
    crm = _sources()["crm"]
    counting = _Counting(crm.mapping)
    source = Source(crm.name, crm.config, counting, crm.api_key, crm.tz)
    body = {**CRM_BODY, **{f"extra{i}": str(i) for i in range(3000)}}
    explained = explain(source, _json(body))
    assert explained.status == "ok"
    assert counting.runs <= 2 * MAX_PROBES + 2
    assert explained.field("ani").inputs == ["call.from"]  # the first keys are searched
    assert explained.as_dict()["fields"][3]["name"] == "ani"
    assert orjson.loads(orjson.dumps(explained.as_dict()))["status"] == "ok"


def test_explain_raw_parses_as_the_hook_does_and_drops_the_secret() -> None:
    """A pasted Five9 form with the query secret in the query string: the secret is no
    input key; a body that is not JSON and a content type the hook refuses are rejected
    explanations naming body and content_type."""
    f9 = _sources()["f9"]
    params = {"call_id": "42", "ani": "5125550100", "dnis": "5125550187",
              "disposition_name": "Sale", "start_timestamp": "20260803090006000"}  # fmt: skip
    explained = explain_raw(
        f9, body=urlencode(params).encode(), content_type=FORM_TYPE,
        query="?token=f9-hook-secret-0001&campaign_name=Spring",
    )  # fmt: skip
    assert explained.status == "ok"
    assert explained.field("campaign_name").inputs == ["campaign_name"]
    assert "f9-hook-secret-0001" not in orjson.dumps(explained.as_dict()).decode()
    assert all("token" not in t.inputs for t in explained.fields)
    bad = explain_raw(_sources()["crm"], body=b'{"a": 1,}', content_type="application/json")
    assert bad.status == "rejected"
    assert bad.preview.errors[0]["field"] == "body"
    assert [t.name for t in bad.fields] == list(DIAL_FIELDS)
    odd = explain_raw(_sources()["crm"], body=b"<xml/>", content_type="text/xml")
    assert odd.preview.errors[0]["field"] == "content_type"


def _paths(data: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            out.add(path)
            out |= _paths(value, path + ".")
    return out


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_VALUES = st.one_of(
    _TEXT,
    st.sampled_from(["5125550187", "(512) 555-0100", "2026-08-03 09:00:06", "OB", "sale", "null",
                     "{{x}}", "@Call.ANI@", " ", "1785747606"]),
)  # fmt: skip
_KEYS = st.sampled_from(["call", "from", "to", "at", "dir", "result", "outcome", "camp",
                         "zip", "ani", "dnis", "number", "call_id", "x"])  # fmt: skip
_BODIES = st.dictionaries(
    _KEYS,
    st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=5)),
    max_size=8,
)


def _check(explained: Explanation, request: InboundRequest, source: Source) -> None:
    preview = preview_request(source, request)
    assert explained.preview.as_dict() == preview.as_dict()
    if preview.dial is None:
        assert all(t.value is None for t in explained.fields)
    else:
        assert {t.name: t.value for t in explained.fields} == preview.dial
    keys = _paths(request.data)
    for trace in explained.fields:
        assert set(trace.inputs) <= keys
        if trace.default:
            assert trace.name in source.config.defaults


@settings(max_examples=60, deadline=None)
@given(body=_BODIES, name=st.sampled_from(["crm", "vici", "f9"]))
def test_values_are_the_previews_dial_and_inputs_are_request_keys(
    body: dict[str, Any], name: str
) -> None:
    """Whatever the body: each field's value is the preview's (the wire value), the outcome is
    the preview's, and every input is a key path of the request."""
    source = _sources()[name]
    request = _json(body)
    _check(explain(source, request), request, source)


@settings(max_examples=40, deadline=None)
@given(form=st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_forms_too(form: dict[str, str]) -> None:
    source = _sources()["f9"]
    request = _form(form)
    _check(explain(source, request), request, source)
