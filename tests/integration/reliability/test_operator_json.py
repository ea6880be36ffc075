"""`--json` on the operator's list, show and stats commands: one document on stdout, the
shapes docs/operations.md gives, phones masked and secrets hidden as in the text."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable

import pytest

from relay.config.settings import Settings
from relay.queue import create_queue
from relay.queue.base import NewDial, RejectedRecord
from tests.conftest import DEFAULT_KEY
from tests.support.cli import run_relay

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
PAYLOAD = b'{"dial_id":"d-1","prospect_phone":"5125550187","ani":"5125550100"}'
ANSWER = f'{{"error":"prospect_phone 5125550187 invalid","key":"{DEFAULT_KEY}"}}'


async def _fill(settings: Settings) -> None:
    """Two dials waiting, one dead letter with an answer echoing the key and a phone, one
    rejected request."""
    queue = create_queue(settings.queue_url, settings)
    await queue.open()
    try:
        now = time.time()
        for dial_id, payload in (("d-1", PAYLOAD), ("d-2", b'{"dial_id":"d-2"}'),
                                 ("d-3", b'{"dial_id":"d-3"}')):  # fmt: skip
            await queue.enqueue(NewDial("crm", dial_id, payload, now - 30), 60)
        (leased,) = await queue.lease(1, 60, now=now, only_sources={"crm"})
        await queue.dead_letter(
            leased.id, reason="http_400", status=400, response_body=ANSWER, now=now
        )
        await queue.add_rejected(
            RejectedRecord(
                id="", source="crm", received_at=now, method="POST",
                content_type="application/json", query={"x": "1"},
                body=b'{"prospect_phone":"nope"}',
                problems=[{"field": "prospect_phone", "problem": "not a phone number"}],
            )
        )  # fmt: skip
    finally:
        await queue.close()


@pytest.fixture
def filled(configure_cli: Callable[..., Settings]) -> Settings:
    settings = configure_cli()
    asyncio.run(_fill(settings))
    return settings


def _json(*args: str) -> object:
    done = run_relay(*args, "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1  # one document, on one line
    return json.loads(done.stdout)


def test_queue_stats_json(filled: Settings) -> None:
    """`queue stats --json`: the counts, the oldest dial's age in seconds, by source."""
    stats = _json("queue", "stats")
    assert isinstance(stats, dict)
    assert {k: stats[k] for k in ("ready", "delayed", "leased", "dead", "rejected")} == {
        "ready": 2, "delayed": 0, "leased": 0, "dead": 1, "rejected": 1,
    }  # fmt: skip
    assert 25 <= stats["oldest_age_seconds"] < 3600
    assert stats["by_source"] == {"crm": 2}


def test_dlq_list_and_show_json(filled: Settings) -> None:
    """`dlq list --json` is an array of the table's rows; `dlq show --json` is the document
    `dlq show` prints, phones masked and the echoed key hidden alike."""
    (row,) = _json("dlq", "list")  # type: ignore[misc]
    assert set(row) == {"id", "source", "dial_id", "status", "reason", "received_at",
                        "dead_at", "attempts"}  # fmt: skip
    assert (row["source"], row["dial_id"], row["status"], row["reason"]) == (
        "crm", "d-1", 400, "http_400",
    )  # fmt: skip
    assert ISO.fullmatch(row["dead_at"]) and ISO.fullmatch(row["received_at"])
    shown = _json("dlq", "show", row["id"])
    text = run_relay("dlq", "show", row["id"])
    assert json.loads(text.stdout) == shown  # the text is the same document, indented
    assert isinstance(shown, dict)
    assert shown["payload"]["prospect_phone"] == "******0187"
    raw = json.dumps(shown)
    assert "5125550187" not in raw and DEFAULT_KEY not in raw
    assert "5125550187" not in text.stdout and DEFAULT_KEY not in text.stdout
    assert {**shown, "response_body": None, "payload": None} == {
        **row, "response_body": None, "payload": None,
    }  # fmt: skip


def test_rejected_list_and_show_json(filled: Settings) -> None:
    """`rejected list --json` is an array with each record's problems; `rejected show
    --json` adds the request as received."""
    (row,) = _json("rejected", "list")  # type: ignore[misc]
    assert row["source"] == "crm" and ISO.fullmatch(row["received_at"])
    assert row["problems"] == [{"field": "prospect_phone", "problem": "not a phone number"}]
    shown = _json("rejected", "show", row["id"])
    assert shown == {
        **row, "method": "POST", "content_type": "application/json", "query": {"x": "1"},
        "body": '{"prospect_phone":"nope"}',
    }  # fmt: skip
    assert json.loads(run_relay("rejected", "show", row["id"]).stdout) == shown


def test_empty_lists_are_empty_arrays(configure_cli: Callable[..., Settings]) -> None:
    """An empty queue lists `[]`, not nothing (a program can always parse the output)."""
    settings = configure_cli()
    asyncio.run(_fill(settings))
    assert _json("dlq", "list", "--source", "other") == []
    assert _json("rejected", "list", "--source", "other") == []
