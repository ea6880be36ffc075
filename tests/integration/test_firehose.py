"""Amazon Connect contact records through Kinesis Data Firehose: a real relay, the fake
Firehose (``tests/support/fake_firehose.py``) and the fake outboundIQ, on both queue backends."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from relay.queue.registry import create_queue
from tests.support.cli import run_relay
from tests.support.fake_firehose import FakeFirehose
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread
from tests.support.scrape import value

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "vendors" / "amazon-connect"
ACCESS_KEY = "firehose-access-key-0001"
SOURCES = f"""
sources:
  connect:
    mapping: amazon-connect
    auth:
      type: firehose
      secrets: ["{ACCESS_KEY}", "firehose-access-key-next"]
"""


def record(case: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CORPUS / f"{case}.json").read_text())["request"]["body"]
    return body


def expected(case: str) -> dict[str, Any]:
    dial: dict[str, Any] = json.loads((CORPUS / f"{case}.json").read_text())["expected"]
    return dial


def firehose(relay: RelayThread, key: str | None = ACCESS_KEY, **kw: Any) -> FakeFirehose:
    return FakeFirehose(f"{relay.url}/hooks/connect", key, **kw)


def test_a_batch_with_retries_delivers_one_dial_per_contact(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    queue_mode: dict[str, Any],
) -> None:
    """A mixed batch (a repeated contact, chat, a contact not ended, a record that cannot be
    mapped, a record that is not JSON), sent twice as Firehose retries: 200 both times, one
    dial per voice contact, the unmappable ones kept as rejected."""
    relay = start_relay(SOURCES, **queue_mode)
    older = record("derived-inbound-answered")
    newer = {**older, "LastUpdateTimestamp": "2022-01-11T03:41:32Z", "Queue": {"Name": "Later"}}
    batch = [
        older,
        record("derived-outbound-disposition-attribute"),
        newer,  # the same contact, updated: the latest copy is the one kept
        record("derived-campaign-voicemail"),
        record("derived-chat-ignored"),
        record("derived-not-ended-ignored"),
        record("inbound-masked-customer-number"),
        b"this is not a contact record",
        older,  # a repeat, older than `newer`
    ]
    hose = firehose(relay)
    first = hose.deliver(batch, attempts=1, request_id="req-0001")
    again = hose.deliver(batch, attempts=1, request_id="req-0001")
    assert (first.status, again.status) == (200, 200)
    assert set(first.body) == {"requestId", "timestamp"}
    fake.wait_accepted(3)
    assert fake.wait_for(lambda: len(fake.accepted()) > 3, timeout=0.5) is False
    got = {r.json()["dial_id"]: r.json() for r in fake.accepted()}
    want_inbound = {**expected("derived-inbound-answered"), "skill_name": "Later"}
    assert got == {
        want_inbound["dial_id"]: want_inbound,
        **{
            d["dial_id"]: d
            for d in (
                expected("derived-outbound-disposition-attribute"),
                expected("derived-campaign-voicemail"),
            )
        },
    }
    assert value(relay.url, "relay_webhooks_total", source="connect", outcome="batch") == 2
    rejected = relay.call(_rejected(relay))
    assert sorted(r["field"] for rec in rejected for r in rec.problems) == [
        "prospect_phone",
        "prospect_phone",
        "record",
        "record",
    ]


async def _rejected(relay: RelayThread) -> list[Any]:
    queue = create_queue(relay.settings.queue_url, relay.settings)
    await queue.open()
    try:
        return await queue.list_rejected(source="connect")
    finally:
        await queue.close()


def test_a_wrong_access_key_is_refused_with_firehose_answer(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue_mode: dict[str, Any]
) -> None:
    relay = start_relay(SOURCES, **queue_mode)
    for key in ("wrong-key", None):
        attempt = firehose(relay, key).deliver([record("derived-inbound-answered")], attempts=2)
        assert attempt.status == 401
        assert attempt.body["errorMessage"] == "unauthorized"
    assert value(relay.url, "relay_auth_failures_total", source="connect") == 4
    rotated = firehose(relay, "firehose-access-key-next")
    assert rotated.deliver([record("derived-inbound-answered")]).status == 200
    fake.wait_accepted(1)


def test_gzip_batches_are_accepted_and_a_gzip_bomb_is_refused(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = start_relay(SOURCES, firehose_max_bytes=64 * 1024)
    hose = firehose(relay, gzip=True)
    assert hose.deliver([record("derived-outbound-disposition-attribute")]).status == 200
    assert [r.json()["dial_id"] for r in fake.wait_accepted(1)] == [
        expected("derived-outbound-disposition-attribute")["dial_id"]
    ]
    bomb = b'{"requestId": "req-bomb", "records": [' + b" " * (1024 * 1024) + b"]}"
    attempt = hose.post(bomb, "req-bomb")
    assert attempt.status == 413
    assert "65536" in attempt.body["errorMessage"]


def test_gzip_is_refused_for_other_sources(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = start_relay()
    answer = httpx.post(
        f"{relay.url}/hooks/crm",
        content=gzip.compress(b"{}"),
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-Relay-Token": "crm-hook-secret",
        },
    )
    assert answer.status_code == 415


def test_a_malformed_envelope_gets_a_firehose_error(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = start_relay(SOURCES)
    attempt = firehose(relay).post(b'{"records": "nope"}', "req-bad")
    assert attempt.status == 400
    assert "requestId" in attempt.body["errorMessage"]


def test_a_queue_that_cannot_store_is_a_503_firehose_retries(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Nothing is answered 200 unless it is stored: Firehose gets a 503 with an errorMessage
    (and retries the batch later)."""
    relay = start_relay(SOURCES)
    relay.call(relay.runtime.queue.close())
    attempt = firehose(relay).deliver([record("derived-inbound-answered")], attempts=2)
    assert attempt.status == 503
    assert attempt.body["errorMessage"] == "cannot store right now; retry"
    assert value(relay.url, "relay_webhooks_total", source="connect", outcome="unavailable") == 2


def test_relay_preview_shows_the_dial_of_one_contact_record(tmp_path: Path) -> None:
    """`relay preview connect record.json`: the record itself (not a batch) maps as live."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    ctr = tmp_path / "record.json"
    ctr.write_text(json.dumps(record("derived-outbound-disposition-attribute")))
    env = {
        "RELAY_SOURCES_FILE": str(sources),
        "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/q.db",
        "RELAY_OUTBOUNDIQ_API_KEY": "oiq-key-0001",
    }
    done = run_relay("preview", "connect", str(ctr), "--json", env=env)
    assert done.returncode == 0, done.stderr
    dial = json.loads(done.stdout)["dial"]
    assert dial == expected("derived-outbound-disposition-attribute")
