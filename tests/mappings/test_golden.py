"""Golden files: every vendor fixture maps to its exact Dials payload, in process and through
a real relay (hook → queue → fake outboundIQ), and previews to the same payload and warnings."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from relay.core.pipeline import parse_request
from relay.core.preview import preview_request, read_request
from tests.mappings.golden import Golden, build_sources, goldens, sources_yaml
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

ALL = goldens()


def test_fixtures_cover_every_builtin_vendor_mapping() -> None:
    """Each built-in vendor mapping has golden fixtures, and every fixture has a description."""
    assert {g.mapping for g in ALL} == {"five9", "vicidial", "convoso"}
    assert all(g.doc["description"] for g in ALL)


@pytest.mark.parametrize("golden", ALL, ids=lambda g: f"{g.mapping}/{g.case}")
def test_golden_mapping(golden: Golden) -> None:
    """The fixture's raw request maps to exactly the expected payload, errors and warnings."""
    source = build_sources([golden])[golden.source_name]
    raw = read_request(golden.path.read_bytes())
    query, body = source.without_secret(raw.query, raw.content_type, raw.body)
    outcome = preview_request(source, parse_request(raw.method, raw.content_type, query, body))
    assert outcome.dial == golden.expected
    assert outcome.errors == golden.doc.get("errors", [])
    assert outcome.warnings == golden.doc["warnings"]


def _send(relay: RelayThread, golden: Golden, route: str) -> httpx.Response:
    request = golden.request
    headers = {"Content-Type": request["content_type"]} if request["content_type"] else {}
    return httpx.request(
        request["method"],
        f"{relay.url}/{route}/{golden.source_name}?{request['query']}",
        content=request["body"].encode(),
        headers=headers,
    )


@pytest.mark.parametrize("mapping", ["five9", "vicidial", "convoso"])
def test_golden_through_a_real_relay(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, mapping: str
) -> None:
    """Through the real server each fixture is answered as listed (202, 200 duplicate, 422)
    and outboundIQ receives exactly the expected payloads, once each; previews match."""
    cases = goldens(mapping)
    relay = start_relay(sources_yaml(cases))
    for golden in cases:
        preview = _send(relay, golden, "preview")
        assert preview.json().get("dial") == golden.expected, golden.case
        assert preview.json()["warnings"] == golden.doc["warnings"], golden.case
        answers = [_send(relay, golden, "hooks").status_code for _ in golden.deliveries]
        assert answers == golden.deliveries, golden.case
    expected = {g.expected["dial_id"]: g.expected for g in cases if g.expected is not None}
    received = fake.wait_accepted(len(expected))
    assert sorted(r.json()["dial_id"] for r in received) == sorted(expected)
    for r in received:
        assert r.json() == expected[r.json()["dial_id"]]

    def settled() -> bool:
        stats = relay.call(relay.runtime.queue.stats(now=time.time()))
        return stats.ready + stats.delayed + stats.leased == 0

    assert fake.wait_for(settled)
    assert len(fake.accepted()) == len(expected)
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    assert stats.rejected == sum(g.deliveries.count(422) for g in cases)
