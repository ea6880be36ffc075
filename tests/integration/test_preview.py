"""Preview: POST /preview/<source> and `relay preview` map and explain, and queue nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.cli import main
from relay.core.pipeline import FORM_TYPE
from relay.core.preview import looks_like_json, read_request
from tests.conftest import dial_body
from tests.mappings.golden import case
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

SOURCES = """
sources:
  f9:
    mapping: five9
    auth: {type: query, param: token, secret: f9-hook-secret}
  crm:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    timezone: America/Chicago
"""
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FIVE9 = (
    "call_id=42&ani=5125550100&dnis=5125550187&type_name=Outbound&disposition_name=Sale"
    "&start_timestamp=20260821160006123&lead_source=@Contact.lead_source@"
)


def _nothing_queued(relay: RelayThread, fake: FakeOutboundIQ) -> None:
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    assert (stats.ready, stats.delayed, stats.leased, stats.rejected) == (0, 0, 0, 0)
    assert fake.requests == []


def test_preview_maps_and_warns_without_queueing(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A preview returns the Dials payload and every warning; nothing is queued or sent."""
    relay = start_relay(SOURCES)
    r = httpx.post(f"{relay.url}/preview/f9?token=f9-hook-secret", content=FIVE9, headers=FORM)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["queued"] is False
    assert body["dial"]["dial_id"] == "42"
    assert body["dial"]["datetime"] == "2026-08-21 16:00:06"
    warnings = body["warnings"]
    assert "lead_source: @Contact.lead_source@ did not substitute (treated as empty)" in warnings
    assert "agent_name is empty" in warnings
    assert any(w.startswith("datetime has no UTC offset") for w in warnings)
    _nothing_queued(relay, fake)
    again = httpx.post(f"{relay.url}/hooks/f9?token=f9-hook-secret", content=FIVE9, headers=FORM)
    assert again.status_code == 202  # the preview did not take the dial_id


def test_preview_of_a_rejected_request_stores_nothing(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Problems come back as 422 with the fields, and no rejected record is kept."""
    relay = start_relay(SOURCES)
    bad = dial_body(prospect_phone="nope", datetime="")
    r = httpx.post(
        f"{relay.url}/preview/crm", json=bad, headers={"X-Relay-Token": "crm-hook-secret"}
    )
    assert r.status_code == 422
    assert r.json()["status"] == "rejected" and r.json()["queued"] is False
    assert {e["field"] for e in r.json()["errors"]} == {"prospect_phone", "datetime"}
    _nothing_queued(relay, fake)


def test_preview_has_the_hooks_auth_and_answers(start_relay: Callable[..., RelayThread]) -> None:
    """Same auth as the hook (401 without the secret), 404 unknown source, 415 other types."""
    relay = start_relay(SOURCES)
    assert httpx.post(f"{relay.url}/preview/f9", content=FIVE9, headers=FORM).status_code == 401
    wrong = httpx.post(f"{relay.url}/preview/crm", json=dial_body())
    assert wrong.status_code == 401
    assert httpx.post(f"{relay.url}/preview/nope", json={}).status_code == 404
    xml = httpx.post(
        f"{relay.url}/preview/f9?token=f9-hook-secret",
        content=b"<call/>",
        headers={"Content-Type": "application/xml"},
    )
    assert xml.status_code == 415


def test_preview_get_like_the_hook(start_relay: Callable[..., RelayThread]) -> None:
    """A GET connector URL can be previewed by swapping /hooks/ for /preview/."""
    relay = start_relay(SOURCES)
    r = httpx.get(f"{relay.url}/preview/f9?token=f9-hook-secret&{FIVE9}")
    assert r.status_code == 200
    assert r.json()["dial"]["prospect_phone"] == "5125550187"


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES)
    return path


def test_cli_previews_a_fixture_file(
    sources_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`relay preview SOURCE FILE` reads a request file (a vendor corpus file) and prints the
    payload and warnings."""
    fixture = case("five9/e164_zip4_preview")
    code = main(["preview", "f9", str(fixture.path), "--sources-file", str(sources_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["dial"] == fixture.expected


def test_cli_previews_a_raw_body(
    sources_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A raw form body with --query works, and a rejected one exits 1 with the problems."""
    raw = tmp_path / "body.txt"
    raw.write_text(FIVE9.replace("call_id=42&", ""))
    code = main(["preview", "f9", str(raw), "--sources-file", str(sources_file), "--query",
                 "call_id=43&token=f9-hook-secret", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["dial"]["dial_id"] == "43"
    raw.write_text(json.dumps(dial_body(ani="")))
    code = main(["preview", "crm", str(raw), "--sources-file", str(sources_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["errors"] == [
        {"field": "ani", "problem": "required, but missing or empty"}
    ]


def test_cli_unknown_source(sources_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown source exits 2 and lists the configured ones."""
    assert main(["preview", "nope", "-", "--sources-file", str(sources_file)]) == 2
    assert "sources: crm, f9" in capsys.readouterr().err


params = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=4)


@given(
    method=st.sampled_from(["GET", "POST", "post"]),
    content_type=st.sampled_from(["", "application/json", "application/x-www-form-urlencoded"]),
    query=params,
    body=st.text(max_size=40),
)
def test_request_files_round_trip(
    method: str, content_type: str, query: dict[str, str], body: str
) -> None:
    """A request file gives back its method, content type, query (object form) and body."""
    doc = {"request": {"method": method, "content_type": content_type, "query": query}}
    doc["request"]["body"] = body
    raw = read_request(orjson.dumps(doc))
    assert raw.method == method.upper()
    assert raw.body == body.encode()
    assert raw.query == query
    guessed = "application/json" if looks_like_json(body.encode()) else FORM_TYPE
    assert raw.content_type == (content_type or guessed)


@given(st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)))
def test_raw_json_bodies_are_json(body: dict[str, object]) -> None:
    """A raw file that parses as JSON is sent as application/json, unchanged."""
    data = orjson.dumps(body)
    raw = read_request(data)
    assert (raw.content_type, raw.body, raw.method) == ("application/json", data, "POST")


def test_cli_preview_ignores_the_query_of_a_signed_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the hook does, `relay preview` of an HMAC source maps the body alone: the query
    is not signed, so it adds no field."""
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  signed: {auth: {type: hmac, secret: signed-hook-secret}}\n")
    raw = tmp_path / "body.json"
    raw.write_text(json.dumps({k: v for k, v in dial_body().items() if k != "agent_name"}))
    code = main(["preview", "signed", str(raw), "--sources-file", str(sources),
                 "--query", "agent_name=Mallory&dial_id=forged", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (out["dial"]["agent_name"], out["dial"]["dial_id"]) == ("", "call-0001")


def test_cli_preview_shows_every_warning(
    sources_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`relay preview` lists each placeholder it emptied (by Dials field, in field order), a
    direction outside outboundIQ's vocabulary and empty fields; a rejected one shows them too."""
    body = dial_body(
        call_direction="Queue Callback", skill_name="{{queue}}", zip="--A--postal_code--B--"
    )
    raw = tmp_path / "body.json"
    raw.write_text(json.dumps(body))
    code = main(["preview", "crm", str(raw), "--sources-file", str(sources_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["dial"]["call_direction"] == "Queue Callback"
    assert out["warnings"] == [
        "zip: --A--postal_code--B-- did not substitute (treated as empty)",
        "skill_name: {{queue}} did not substitute (treated as empty)",
        "call_direction: 'Queue Callback' is not in outboundIQ's vocabulary (Inbound, "
        "Outbound, SMS, Treview, Transfer, Manual): sent as is; map it with the source's "
        "call_directions",
        "zip is empty",
        "skill_name is empty",
    ]
    raw.write_text(json.dumps({**body, "datetime": "${input.conversationStart}"}))
    code = main(["preview", "crm", str(raw), "--sources-file", str(sources_file), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["errors"] == [{"field": "datetime", "problem": "required, but missing or empty"}]
    assert (
        "datetime: ${input.conversationStart} did not substitute (treated as empty)"
        in (out["warnings"])
    )
