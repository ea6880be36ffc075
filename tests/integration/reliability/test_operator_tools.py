"""Dead letters and rejected requests are visible and replayable with the `relay` CLI."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest

from relay.cli import main
from relay.config.settings import Settings
from relay.queue import create_queue
from relay.queue.base import NewDial, RejectedRecord
from tests.conftest import DEFAULT_KEY, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


@pytest.fixture
def cli_env(configure_cli: Callable[..., Settings]) -> Settings:
    return configure_cli()


def test_400_dead_letter_then_replay(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 400 lands in the DLQ with status and body; `dlq replay` delivers it once accepted."""
    fake.fail_dial("bad", Reply(400, body='{"error":"campaign unknown"}'))
    relay = start_relay(settings=cli_env)
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="bad"), headers=CRM)
    assert fake.wait_for(lambda: relay.call(relay.runtime.queue.stats(now=time.time())).dead == 1)

    assert main(["dlq", "list", "--status", "400"]) == 0
    listing = capsys.readouterr().out
    assert "bad" in listing and "http_400" in listing
    (row,) = [line for line in listing.splitlines() if "\tbad\t" in line]
    dead_id = row.split("\t")[0]
    assert main(["dlq", "show", dead_id]) == 0
    shown = capsys.readouterr().out
    assert "campaign unknown" in shown
    assert "5125550187" not in shown and "******0187" in shown  # phones masked
    assert main(["queue", "stats"]) == 0
    assert "dead      1" in capsys.readouterr().out

    assert main(["dlq", "replay"]) == 2  # refuses to act without ids or a filter
    capsys.readouterr()
    fake.fail_dial("bad", None)
    assert main(["dlq", "replay", "--source", "crm"]) == 0
    assert "re-queued 1" in capsys.readouterr().out
    got = fake.wait_accepted(1, timeout=10)
    assert [r.json()["dial_id"] for r in got] == ["bad"]


def test_dlq_purge(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`dlq purge --older-than` removes only what is old enough."""
    fake.default = Reply(422)
    relay = start_relay(settings=cli_env)
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="p1"), headers=CRM)
    assert fake.wait_for(lambda: relay.call(relay.runtime.queue.stats(now=time.time())).dead == 1)
    assert main(["dlq", "purge", "--older-than", "1h"]) == 0
    assert "purged 0" in capsys.readouterr().out
    assert main(["dlq", "purge", "--all"]) == 0
    assert "purged 1" in capsys.readouterr().out


def test_rejected_replay_after_mapping_fix(
    fake: FakeOutboundIQ,
    configure_cli: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A request the mapping could not read is kept, and replays once the mapping is fixed."""
    broken = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    options: {fields: {prospect_phone: customer.phone}}
"""
    settings = configure_cli(broken)
    sources = settings.sources_file
    assert sources is not None
    relay = RelayThread(settings).start()
    try:
        body = dial_body(dial_id="rj-1")
        body["contact"] = {"phone": body.pop("prospect_phone")}
        r = httpx.post(f"{relay.url}/hooks/crm", json=body, headers=CRM)
        assert r.status_code == 422
        assert main(["rejected", "list"]) == 0
        assert "prospect_phone" in capsys.readouterr().out
        assert main(["rejected", "replay", "--all"]) == 1  # still broken: kept, exit 1
        assert "still rejected 1" in capsys.readouterr().out
        sources.write_text(broken.replace("customer.phone", "contact.phone"))
        assert main(["rejected", "replay", "--all"]) == 0
        assert "queued 1" in capsys.readouterr().out
        got = fake.wait_accepted(1, timeout=10)
        assert got[0].json()["prospect_phone"] == "5125550187"
        capsys.readouterr()
        assert main(["rejected", "list", "--source", "crm"]) == 0
        rows = [line for line in capsys.readouterr().out.splitlines() if "\tcrm\t" in line]
        assert rows == []
    finally:
        relay.stop()


def test_dlq_show_never_prints_an_echoed_key_or_a_phone(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """outboundIQ's answer echoing the key it was sent and a phone number is stored redacted,
    and `dlq show` masks the phones of a record stored raw before (by an older relay)."""
    echo = (
        '{"error":"prospect_phone (512) 555-0187 invalid",'
        f'"headers":{{"Authorization":"Bearer {DEFAULT_KEY}"}}}}'
    )
    fake.fail_dial("echo", Reply(400, body=echo))
    relay = start_relay(settings=cli_env)
    httpx.post(f"{relay.url}/hooks/crm", json=dial_body(dial_id="echo"), headers=CRM)
    assert fake.wait_for(lambda: relay.call(relay.runtime.queue.stats(now=time.time())).dead == 1)
    queue = relay.runtime.queue
    now = time.time()
    relay.call(queue.enqueue(NewDial("crm", "old", b'{"dial_id":"old"}', now), 60))
    (old,) = relay.call(queue.lease(1, 60, now=now, only_sources={"crm"}))
    relay.call(
        queue.dead_letter(
            old.id, reason="http_400", status=400, response_body="bad 512.555.0100", now=now
        )
    )
    shown = []
    for dead in relay.call(queue.list_dead()):
        assert main(["dlq", "show", dead.id]) == 0
        shown.append(json.loads(capsys.readouterr().out)["response_body"])
    assert sorted(shown) == [
        "bad ******0100",
        '{"error":"prospect_phone ******0187 invalid",'
        '"headers":{"Authorization":"Bearer **********"}}',
    ]


def test_rejected_purge_by_id_source_and_age(
    configure_cli: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    """`relay rejected purge` takes ids, --source, --older-than or --all, like `dlq purge`;
    it refuses to act without one, and an unknown id fails (exit 1) before anything goes."""
    settings = configure_cli()
    now = time.time()

    def record(source: str, age: float) -> RejectedRecord:
        return RejectedRecord("", source, now - age, "POST", "text/plain", {}, b"x", [])

    async def arrange() -> list[str]:
        queue = create_queue(settings.queue_url)
        await queue.open()
        ids = [
            await queue.add_rejected(record(source, age))
            for source, age in [("crm", 10), ("crm", 3 * 86400), ("other", 10), ("other", 10)]
        ]
        await queue.close()
        return ids

    async def left() -> list[str]:
        queue = create_queue(settings.queue_url)
        await queue.open()
        try:
            return [r.id for r in await queue.list_rejected()]
        finally:
            await queue.close()

    fresh, old, other1, other2 = asyncio.run(arrange())
    assert main(["rejected", "purge"]) == 2
    assert "--all" in capsys.readouterr().err
    assert main(["rejected", "purge", fresh, "999999"]) == 1
    assert "no rejected request 999999" in capsys.readouterr().err
    assert asyncio.run(left()) == [fresh, old, other1, other2]  # nothing went
    assert main(["rejected", "purge", "--older-than", "2d"]) == 0
    assert "purged 1 rejected request(s)" in capsys.readouterr().out
    assert main(["rejected", "purge", fresh]) == 0
    assert "purged 1 rejected request(s)" in capsys.readouterr().out
    assert asyncio.run(left()) == [other1, other2]
    assert main(["rejected", "purge", "--source", "crm"]) == 0
    assert "purged 0 rejected request(s)" in capsys.readouterr().out
    assert main(["rejected", "purge", "--all"]) == 0
    assert "purged 2 rejected request(s)" in capsys.readouterr().out
    assert asyncio.run(left()) == []
