"""Dry-run: a newcomer sees in the relay's own log what would have been sent."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import BASIC_SOURCES, dial_body
from tests.integration.test_end_to_end import EXPECTED
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayProcess
from tests.support.tail import ROOT


def test_dry_run_logs_the_payload_it_would_send_with_phones_masked(
    tmp_path: Path, fake: FakeOutboundIQ
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(BASIC_SOURCES)
    relay = RelayProcess(
        {
            "RELAY_SOURCES_FILE": str(sources),
            "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
            "RELAY_OUTBOUNDIQ_URL": fake.url,
            "RELAY_DRY_RUN": "true",
        },
        cwd=ROOT,
        log_path=tmp_path / "relay.log",
    ).start()
    try:
        body = dial_body(dial_id="dry-1")
        answer = httpx.post(
            f"{relay.url}/hooks/crm", json=body, headers={"X-Relay-Token": "crm-hook-secret"}
        )
        assert answer.status_code == 202
        assert fake.wait_for(lambda: '"dry_run":true' in relay.logs())
    finally:
        assert relay.terminate() == 0
    lines = [json.loads(line) for line in relay.logs().splitlines() if line.startswith("{")]
    (sent,) = [line for line in lines if line["event"] == "dial_forwarded"]
    assert sent["dry_run"] is True and sent["dial_id"] == "dry-1"
    assert sent["payload"] == {  # the Dial that would have been sent, phones masked
        **EXPECTED,
        "ani": "******0100",
        "prospect_phone": "******0187",
        "dial_id": "dry-1",
    }
    assert fake.requests == []
    assert unmasked_test_phones(relay.logs()) == []
