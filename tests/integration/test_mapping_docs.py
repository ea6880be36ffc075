"""The mapping docs stay true to the code: their tables, sources and URLs work as written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
import pytest

from mappings.five9 import DEFAULT_NAMES
from relay.core.pipeline import parse_request
from relay.core.preset import read_preset
from relay.core.preview import preview_request
from relay.core.sources import parse_sources

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = [DOCS / "mappings.md", *sorted((DOCS / "vendors").glob("*.md"))]
ENV = {"FIVE9_HOOK_TOKEN": "t0", "VICI_HOOK_TOKEN": "t0", "CONVOSO_HOOK_TOKEN": "t0"}


def _env_for(text: str) -> dict[str, str]:
    """Every ${VAR} an example names, set (the docs show secrets as variables)."""
    return {**ENV, **{v: "x0" for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)}}


def blocks(page: Path, language: str) -> list[str]:
    """The page's code blocks of ``language``, list-item indentation removed."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^ *```", page.read_text(), flags=re.S | re.M)
    return [textwrap.dedent(body) for _, body in found]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_sources_example_is_valid(page: Path) -> None:
    """Each sources-file example in the docs validates and builds its mapping."""
    examples = [b for b in blocks(page, "yaml") if b.startswith("sources:")]
    for example in examples:
        assert parse_sources(example, env=_env_for(example))


def test_five9_parameter_table_is_the_mappings_name_set() -> None:
    """The Five9 page lists exactly the parameters the mapping reads, plus the token."""
    rows = re.findall(r"^\| `(\w+)` \| ", (DOCS / "vendors" / "five9.md").read_text(), re.M)
    assert set(rows) == {*DEFAULT_NAMES, "token"}


def test_preset_example_loads(tmp_path: Path) -> None:
    """The preset example of mappings.md is a valid preset over the generic mapping."""
    [example] = [b for b in blocks(DOCS / "mappings.md", "yaml") if b.startswith("description")]
    path = tmp_path / "acme.yaml"
    path.write_text(example)
    preset = read_preset(path, "acme")
    text = "sources:\n  a:\n    mapping: acme\n    auth: {type: none}\n"
    assert parse_sources(text, env={}, mappings_dir=tmp_path)["a"]
    assert preset.mapping == "generic"


def test_vicidial_dispo_call_url_maps() -> None:
    """The documented Dispo Call URL, tokens filled in as VICIdial would, maps to a full dial."""
    page = DOCS / "vendors" / "vicidial.md"
    [url] = [b.strip() for b in blocks(page, "text") if b.startswith("VAR")]
    sample = {
        "call_id": "V8211600060000012345", "uniqueid": "1787328006.12345",
        "phone_number": "5125550187", "dialed_number": "5125550187", "dispo": "SALE",
        "dispo_name": "Sale Made", "user": "6001", "fullname": "Jane Doe", "campaign": "SALES1",
        "group": "SALES1", "user_group": "TEAM_A", "SQLdate": "2026-08-21 12:00:06",
        "epoch": "1787328006", "postal_code": "78701", "called_count": "3",
        "entry_date": "2026-08-01 09:15:00", "source_id": "FBADS", "list_name": "Aug",
    }  # fmt: skip
    filled = re.sub(r"--A--(\w+)--B--", lambda m: sample[m.group(1)], url.removeprefix("VAR"))
    query = dict(parse_qsl(urlsplit(filled).query))
    [example] = [b for b in blocks(page, "yaml") if b.startswith("sources:")]
    source = parse_sources(example, env=ENV)["vicidial"]
    query.pop(source.secret_query_param or "")
    outcome = preview_request(source, parse_request("GET", "", query, b""))
    assert outcome.warnings == []
    assert outcome.dial is not None and outcome.dial["ani"] == "5125550100"
    assert outcome.dial["disposition_name"] == "Sale Made"
    del query["dispo_name"]  # a URL with the status code only: the source's table names it
    query["dispo"] = "ni"
    outcome = preview_request(source, parse_request("GET", "", query, b""))
    assert outcome.dial is not None and outcome.dial["disposition_name"] == "Not Interested"


def test_python_mapping_example_maps_through_the_sdk(tmp_path: Path) -> None:
    """The Python mapping of mappings.md, dropped into a mappings folder as written, imports
    only the SDK and maps an Acme call into a Dial."""
    python = blocks(DOCS / "mappings.md", "python")
    [example] = [b for b in python if "class AcmeMapping" in b]
    [factory] = [b for b in python if b.startswith("def mapping(")]
    assert re.findall(r"^(?:from|import) (relay[\w.]*)", example, re.M) == ["relay.sdk"]
    (tmp_path / "acme.py").write_text(example + "\n\n" + factory)
    sources = parse_sources(
        "sources:\n  acme:\n    mapping: acme\n    auth: {type: none}\n",
        mappings_dir=tmp_path,
    )
    body = (
        b'{"call": {"uuid": "42", "from": "+1 512 555 0100", "to": "(512) 555-0187",'
        b' "ended": "2026-04-10 09:32:15", "result": "Sale"}}'
    )
    outcome = preview_request(sources["acme"], parse_request("POST", "application/json", {}, body))
    assert outcome.dial is not None, outcome.errors
    assert outcome.dial["dial_id"] == "acme-42"
    assert outcome.dial["ani"] == "5125550100"
    assert outcome.dial["prospect_phone"] == "5125550187"
    assert outcome.dial["datetime"] == "2026-04-10 09:32:15"  # naive: the source zone, UTC
    assert outcome.dial["call_direction"] == "Outbound"


FIVE9_SAMPLE = {
    "@Call.call_id@": "300000010270763", "@Call.ANI@": "5125550100",
    "@Call.DNIS@": "5125550187", "@Call.number@": "5125550187", "@Call.campaign_id@": "1200734",
    "@Call.campaign_name@": "Spring Renewals", "@Agent.full_name@": "Jane Doe",
    "@Call.disposition_name@": "Sale", "@Call.type_name@": "Autodial",
    "@Call.skill_name@": "Renewals", "@Call.start_timestamp@": "20260821160006123",
    "@Call.end_timestamp@": "20260821160412456", "@Contact.zip@": "78701",
    "@Contact.lead_created@": "2026-08-01", "@Contact.dial_attempts@": "3",
    "@Contact.lead_source@": "Facebook Ads",
}  # fmt: skip


def _five9_connector_request(page: Path) -> tuple[str, bytes]:
    """The documented connector's POST body, as Five9 sends it: every row of the parameter
    table in the form body, the variables filled in and the constant `token` with them."""
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|", page.read_text(), re.M)
    pairs = []
    for name, value in rows:
        if name == "token":
            assert "*(constant)*" in value
            pairs.append((name, ENV["FIVE9_HOOK_TOKEN"]))
        else:
            [variable] = re.findall(r"`(@[\w.]+@)`", value)
            pairs.append((name, FIVE9_SAMPLE[variable]))
    return "application/x-www-form-urlencoded", urlencode(pairs).encode()


def test_five9_documented_post_connector_authenticates_and_maps() -> None:
    """The Five9 page's source and connector, exactly as written: a POST whose constant `token`
    is in the form body authenticates, never reaches the mapping, and makes a full dial."""
    page = DOCS / "vendors" / "five9.md"
    [example, *_] = [b for b in blocks(page, "yaml") if b.startswith("sources:")]
    source = parse_sources(example, env=ENV)["five9"]
    content_type, body = _five9_connector_request(page)
    headers = {"content-type": content_type}
    source.config.auth.verify(headers=headers, query={}, body=body)
    query, stripped = source.without_secret({}, content_type, body)
    request = parse_request("POST", content_type, query, stripped)
    assert "token" not in request.data and b"token" not in request.body
    outcome = preview_request(source, request)
    assert outcome.dial is not None and outcome.warnings == []
    assert outcome.dial["agent_name"] == "Jane Doe"
    assert outcome.dial["total_dial_attempts"] == 3


CONVOSO_SAMPLE = {
    "call_log_id": "771200345", "phone_number": "5125550181", "inbound_number": "8005550123",
    "status": "SALE", "agent_full_name": "Jane Doe", "campaign_id": "78",
    "campaign_name": "Solar Inbound", "call_date": "2026-08-21 09:30:00", "call_type": "Inbound",
    "postal_code": "80202", "created_at": "2026-08-20 18:05:00", "called_count": "1",
    "queue_name": "Solar Sales", "source_id": "FBADS",
}  # fmt: skip


def test_convoso_adaptor_fields_as_documented_need_no_configuration() -> None:
    """An Adaptor sending the first name of each row of the Convoso page's table (Convoso's
    own names), through the page's source as written, makes a full dial: the agent, the
    DID as ani on an inbound call, the status code named by `dispositions`."""
    page = DOCS / "vendors" / "convoso.md"
    names = re.findall(r"^\| `(\w+)`", page.read_text(), re.M)
    assert set(names) == set(CONVOSO_SAMPLE)
    body = {name: CONVOSO_SAMPLE[name] for name in names}
    body["caller_id"] = "5125550181"  # on an inbound call, the caller: never the ani
    [example, *_] = [b for b in blocks(page, "yaml") if b.startswith("sources:")]
    source = parse_sources(example, env=ENV)["convoso"]
    request = parse_request("POST", "application/json", {}, orjson.dumps(body))
    outcome = preview_request(source, request)
    assert outcome.warnings == []
    assert outcome.dial is not None
    assert outcome.dial["ani"] == "8005550123" and outcome.dial["prospect_phone"] == "5125550181"
    assert outcome.dial["agent_name"] == "Jane Doe"
    assert outcome.dial["disposition_name"] == "Sale"
    assert outcome.dial["lead_source"] == "FBADS"
    assert outcome.dial["call_direction"] == "Inbound"
