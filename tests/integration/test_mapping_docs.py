"""The mapping docs stay true to the code: their tables and sources are valid, and every
example of the vendor pages works against a real relay: each sources block is started, and the
page's requests (curl commands, URLs, request templates, bodies) or corpus probes sent to it
come out as the Dials they should (markers: tests/support/doc_examples.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest
import yaml

from mappings.five9 import DEFAULT_NAMES
from relay.config.settings import Settings
from relay.core.pipeline import parse_request
from relay.core.preset import read_preset
from relay.core.preview import preview_request
from relay.core.sources import parse_sources
from tests.mappings.golden import (
    Case,
    assert_delivered,
    build_request,
    build_sources,
    case,
    exercise,
    fake_genesys,
)
from tests.support.doc_examples import (
    VENDOR_PAGES,
    Block,
    HttpRequest,
    blocks,
    curl_request,
    filled_url,
    query_values,
    rendered_velocity,
)
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = [DOCS / "mappings.md", *sorted((DOCS / "vendors").glob("*.md"))]
ENV = {"FIVE9_HOOK_TOKEN": "t0", "VICI_HOOK_TOKEN": "t0", "CONVOSO_HOOK_TOKEN": "t0"}


def _env_for(text: str) -> dict[str, str]:
    """Every ${VAR} an example names, set (the docs show secrets as variables)."""
    return {**ENV, **{v: "x0" for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)}}


def _bodies(page: Path, lang: str) -> list[str]:
    """The bodies of the page's fenced ``lang`` blocks (list-item indentation removed)."""
    return [b.body for b in blocks(page) if b.lang == lang]


def fenced(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_sources_example_is_valid(page: Path) -> None:
    """Each sources-file example in the docs validates and builds its mapping."""
    examples = [b for b in fenced(page, "yaml") if b.startswith("sources:")]
    for example in examples:
        assert parse_sources(example, env=_env_for(example))


def test_five9_parameter_table_is_the_mappings_name_set() -> None:
    """The Five9 page lists exactly the parameters the mapping reads, plus the token."""
    rows = re.findall(r"^\| `(\w+)` \| ", (DOCS / "vendors" / "five9.md").read_text(), re.M)
    assert set(rows) == {*DEFAULT_NAMES, "token"}


def test_preset_example_loads(tmp_path: Path) -> None:
    """The preset example of mappings.md is a valid preset over the generic mapping."""
    [example] = [b for b in fenced(DOCS / "mappings.md", "yaml") if b.startswith("description")]
    path = tmp_path / "acme.yaml"
    path.write_text(example)
    preset = read_preset(path, "acme")
    text = "sources:\n  a:\n    mapping: acme\n    auth: {type: none}\n"
    assert parse_sources(text, env={}, mappings_dir=tmp_path)["a"]
    assert preset.mapping == "generic"


def test_python_mapping_example_maps_through_the_sdk(tmp_path: Path) -> None:
    """The Python mapping of mappings.md, dropped into a mappings folder as written, imports
    only the SDK and maps an Acme call into a Dial."""
    python = fenced(DOCS / "mappings.md", "python")
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


# --- the vendor pages' examples, through a real relay ------------------------------------


@pytest.mark.parametrize("page", VENDOR_PAGES, ids=lambda p: p.name)
def test_every_vendor_page_block_is_marked(page: Path) -> None:
    """Each fenced block of a vendor page says whether it is a sources file, a request, or
    something the relay never receives, so no example escapes the tests below."""
    unmarked = [b.where for b in blocks(page) if not b.marked]
    assert not unmarked, f"blocks without an <!-- example: ... --> marker: {unmarked}"
    for b in blocks(page):
        assert b.not_run or {"sources", "request"} & set(b.spec), b.where
        if "sources" in b.spec:
            assert b.lang == "yaml" and b.body.startswith("sources:"), b.where


@pytest.mark.parametrize("page", VENDOR_PAGES, ids=lambda p: p.name)
def test_every_sources_block_is_exercised(page: Path) -> None:
    """Every sources block of a vendor page gets at least one request (its own or a probe), and
    every request names a sources block of the page."""
    page_blocks = blocks(page)
    requested = {b.spec["request"] for b in page_blocks if "request" in b.spec}
    named = {b.spec["sources"] for b in page_blocks if "sources" in b.spec}
    assert requested <= named, f"requests to no sources block: {requested - named}"
    for b in page_blocks:
        if "sources" in b.spec:
            assert b.spec["sources"] in requested or b.spec.get("probe"), b.where


@dataclass(frozen=True)
class Example:
    """A request (documented, or a corpus probe) to a documented sources block."""

    sources: Block
    request: Block | None = None
    probe: Case | None = None

    @property
    def id(self) -> str:
        what = self.request.where if self.request else self.probe.id if self.probe else ""
        return f"{self.sources.spec['sources']}<-{what}"


def _examples() -> list[Example]:
    out = []
    for page in VENDOR_PAGES:
        page_blocks = blocks(page)
        named = {b.spec["sources"]: b for b in page_blocks if "sources" in b.spec}
        for b in page_blocks:
            if "sources" in b.spec:
                probes = [p for p in b.spec.get("probe", "").split(",") if p]
                out.extend(Example(b, probe=case(ref)) for ref in probes)
            if b.spec.get("request") in named:  # else test_every_sources_block_is_exercised fails
                out.append(Example(named[b.spec["request"]], request=b))
    return out


EXAMPLES = _examples()


def _documented_relay(
    example: Example, settings: Settings, genesys_url: str
) -> tuple[RelayThread, str, dict[str, Any]]:
    """A relay serving exactly the documented sources block; its (one) source's name, auth."""
    configs = yaml.safe_load(example.sources.body)["sources"]
    [name] = configs  # one source per documented block
    relay = RelayThread(settings, sources=build_sources(configs, genesys_url)).start()
    return relay, name, configs[name]["auth"]


def _documented_request(example: Example, relay: RelayThread, auth: dict[str, Any]) -> HttpRequest:
    block = example.request
    assert block is not None
    values = case(block.spec["values"]) if "values" in block.spec else None
    [source] = yaml.safe_load(example.sources.body)["sources"]
    if block.lang == "sh":
        return curl_request(block.body, relay.url)
    if block.lang == "text":
        return filled_url(block.body, relay.url, query_values(values.request) if values else {})
    if block.lang == "velocity":
        rendered = block.body
        if values is not None:
            rendered = rendered_velocity(block.body, json.loads(values.request["body"]))
        request = {"method": "POST", "content_type": "application/json", "body": rendered}
    elif block.lang == "json":
        request = {"method": "POST", "content_type": "application/json", "body": block.body}
    else:
        raise AssertionError(f"{block.where}: no way to send a {block.lang!r} example")
    built = build_request(relay.url, source, auth, request)
    return HttpRequest(built.method, str(built.url), dict(built.headers), built.content)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_documented_setup_works(
    example: Example, make_settings: Callable[..., Settings], fake: FakeOutboundIQ
) -> None:
    """The documented sources block, started as written, turns the page's request (or a real
    vendor request from the corpus) into the Dial it should."""
    probes = [example.probe] if example.probe else []
    with fake_genesys(probes) as genesys:
        relay, name, auth = _documented_relay(example, make_settings(), genesys.url)
        try:
            if example.probe is not None:
                exercise(relay.url, fake, name, auth, example.probe)
                return
            block = example.request
            assert block is not None
            request = _documented_request(example, relay, auth)
            answer = httpx.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
            assert answer.status_code == int(block.spec["expect"]), answer.text
            dial = answer.json().get("dial") if request.route == "preview" else None
            if request.route == "preview":
                assert answer.json()["status"] == "ok", answer.text
            expected = case(block.spec["dial"]).expected if "dial" in block.spec else None
            if expected is not None and request.route == "preview":
                assert dial == expected
            elif expected is not None:
                assert_delivered(fake, expected)
            for pair in filter(None, block.spec.get("where", "").split(",")):
                field, _, value = pair.partition(":")
                assert dial is not None and str(dial[field]) == value, (field, dial)
        finally:
            relay.stop()


def test_vicidial_dispo_call_url_maps() -> None:
    """The documented Dispo Call URL, tokens filled in as VICIdial would, maps to a full dial."""
    page = DOCS / "vendors" / "vicidial.md"
    url = next(b.strip() for b in _bodies(page, "text") if b.startswith("VAR"))  # Dispo Call URL
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
    [example] = [
        b for b in [b.body for b in blocks(page) if b.lang == "yaml"] if b.startswith("sources:")
    ]
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
    [example, *_] = [
        b for b in [b.body for b in blocks(page) if b.lang == "yaml"] if b.startswith("sources:")
    ]
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
    [example, *_] = [
        b for b in [b.body for b in blocks(page) if b.lang == "yaml"] if b.startswith("sources:")
    ]
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
