"""Vendor exports backfill exactly like live calls: Five9 Call Log CSV, Genesys details JSON."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relay.cli import main
from relay.config.settings import Settings
from relay.core.backfill import BackfillOptions, run_backfill
from tests.mappings.conftest import fixture, genesys, genesys_relay, wait_drained  # noqa: F401
from tests.support.fake_genesys import FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

FIXTURES = Path(__file__).parent / "fixtures"
FIVE9_SOURCES = """
sources:
  five9:
    mapping: five9
    auth: {type: query, param: token, secret: five9-hook-secret}
    timezone: UTC
"""


@pytest.fixture
def five9_cli(backend_cli: Callable[..., Settings]) -> Settings:
    return backend_cli(FIVE9_SOURCES)


def test_five9_call_log_golden(
    five9_cli: Settings, fake: FakeOutboundIQ, capsys: pytest.CaptureFixture[str]
) -> None:
    """Legs merge into one dial, times are read in the report's zone, bad rows are kept."""
    file = str(FIXTURES / "five9" / "call_log.csv")
    args = ["backfill", "five9", file, "--format", "five9-calllog"]
    window = ["--timezone", "America/Los_Angeles", "--since", "2026-08-01"]
    assert main([*args, *window]) == 0
    out = capsys.readouterr().out
    assert "queued    4" in out and "outside   1" in out and "rejected  1" in out
    assert "coalesced 1" in out  # the transferred call's second leg
    assert "call_log.csv:7: prospect_phone" in out
    relay = RelayThread(five9_cli).start()
    try:
        got = fake.wait_accepted(4, timeout=10)
        wanted = json.loads((FIXTURES / "five9" / "expected.json").read_text())
        assert sorted((r.json() for r in got), key=lambda d: d["dial_id"]) == wanted
    finally:
        relay.stop()
    assert main([*args, *window]) == 0  # a re-run sends nothing twice
    assert "queued    0" in capsys.readouterr().out


def test_five9_call_log_legs_follow_the_sources_coalescing(
    configure_cli: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    """With coalesce_seconds: 0 a Five9 source keeps a call's first leg, in backfill as live:
    the later leg is a duplicate."""
    configure_cli(FIVE9_SOURCES + "    coalesce_seconds: 0\n")
    file = str(FIXTURES / "five9" / "call_log.csv")
    args = ["backfill", "five9", file, "--format", "five9-calllog", "--since", "2026-08-01"]
    assert main([*args, "--timezone", "America/Los_Angeles", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would queue 4" in out and "duplicate 1" in out and "coalesced 0" in out


def test_genesys_details_golden(
    genesys_relay: Callable[..., RelayThread],  # noqa: F811
    genesys: FakeGenesys,  # noqa: F811
    fake: FakeOutboundIQ,
    backend: dict[str, Any],
) -> None:
    """Each ended conversation becomes its golden dial, named by the live lookups."""
    relay = genesys_relay(**backend)
    source = relay.runtime.sources["genesys"]
    options = BackfillOptions(fmt="genesys-details", since="2026-01-01", progress=io.StringIO())
    file = FIXTURES / "genesys" / "details_query.json"
    report = relay.call(run_backfill(relay.runtime.queue, source, [file], options))
    assert dict(report.counts) == {"queued": 3, "ignored": 1, "outside_window": 1, "rejected": 1}
    assert report.rejects[0][:2] == ("details_query.json", 6)
    got = fake.wait_accepted(3, timeout=10)
    wanted = [fixture(s, "dial.json") for s in ("outbound_agent", "agentless_noanswer", "inbound")]
    key = lambda d: d["dial_id"]  # noqa: E731
    assert sorted((r.json() for r in got), key=key) == sorted(wanted, key=key)
    assert genesys.calls("/api/v2/analytics") == 0  # the export already held each call
    again = relay.call(run_backfill(relay.runtime.queue, source, [file], options))
    assert again.counts["queued"] == 0 and again.counts["duplicate"] == 3
    wait_drained(relay)


def test_genesys_details_with_a_hostile_id_are_rejected_before_any_call(
    genesys_relay: Callable[..., RelayThread],  # noqa: F811
    genesys: FakeGenesys,  # noqa: F811
    tmp_path: Path,
) -> None:
    """An exported conversation naming a non-UUID id is a rejected row naming the field; it
    is never queued, so its lookups never reach Genesys."""
    relay = genesys_relay()
    details = fixture("outbound_agent", "details.json")
    details["participants"][1]["userId"] = "../../oauth/token"
    file = tmp_path / "details.json"
    file.write_text(json.dumps({"conversations": [details]}))
    options = BackfillOptions(fmt="genesys-details", progress=io.StringIO())
    report = relay.call(
        run_backfill(relay.runtime.queue, relay.runtime.sources["genesys"], [file], options)
    )
    assert dict(report.counts) == {"rejected": 1}
    assert [(p.field, p.problem) for p in report.rejects[0][2]] == [
        ("userId", "not a Genesys id (a UUID)")
    ]
    assert genesys.requests == []
