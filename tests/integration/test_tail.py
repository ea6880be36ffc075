"""``relay tail`` against a real relay's ``/admin/events`` (SQLite queue, so over HTTP): every
kind of event, phones masked, filters, the admin token, and the end of the stream."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import dial_body
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread
from tests.support.tail import TailProcess

TOKEN = "admin-token-for-tests-0001"
CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}


@pytest.fixture
def tails() -> Iterator[Callable[..., TailProcess]]:
    started: list[TailProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready: bool = True) -> TailProcess:
        tail = TailProcess(list(args), {"RELAY_ADMIN_TOKEN": TOKEN} if env is None else env)
        started.append(tail)
        return tail.start(ready=ready)

    yield start
    for tail in started:
        tail.kill()


def post(relay: RelayThread, dial_id: str, headers: dict[str, str] = CRM, **fields: Any) -> int:
    source = "other" if headers is OTHER else "crm"
    body = dial_body(dial_id=dial_id, **fields)
    return httpx.post(f"{relay.url}/hooks/{source}", json=body, headers=headers).status_code


def seen(events: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
    return {(e.get("dial_id"), e["kind"]) for e in events}


def test_tail_follows_every_kind_of_event_with_phones_masked(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    tails: Callable[..., TailProcess],
) -> None:
    """Queued, duplicate, rejected, unauthorized, delivered, retried (then delivered) and
    dead-lettered, each once, as the relay's events; the mapped payload with masked phones."""
    fake.fail_dial("t-retry", Reply(503))
    fake.fail_dial("t-dead", Reply(400, body='{"error":"campaign unknown for 5125550187"}'))
    relay = start_relay(admin_token=TOKEN)
    tail = tails("--json", "--url", relay.url)
    assert post(relay, "t-ok") == 202
    assert post(relay, "t-ok") == 200
    assert post(relay, "t-bad", prospect_phone="not-a-number") == 422
    assert post(relay, "t-who", headers={"X-Relay-Token": "wrong-secret"}) == 401
    assert post(relay, "t-retry") == 202
    assert post(relay, "t-dead") == 202
    tail.wait_for(lambda events: ("t-retry", "retried") in seen(events))
    fake.fail_dial("t-retry", None)
    wanted = {
        ("t-ok", "queued"),
        ("t-ok", "duplicate"),
        ("t-ok", "delivered"),
        ("t-retry", "delivered"),
        ("t-dead", "dead_lettered"),
    }
    events = tail.wait_for(lambda got: wanted <= seen(got))
    by_kind = {e["kind"]: e for e in events if e.get("dial_id") in (None, "t-ok")}
    by_kind["dead_lettered"] = next(e for e in events if e["kind"] == "dead_lettered")

    queued = by_kind["queued"]
    assert queued["stage"] == "intake" and queued["status"] == 202
    assert queued["source"] == "crm" and queued["replica"] == socket.gethostname()
    assert queued["payload"]["ani"] == "******0100"
    assert queued["payload"]["prospect_phone"] == "******0187"
    assert queued["payload"]["dial_id"] == "t-ok"
    assert queued["payload"]["campaign_name"] == "Q2 Outbound Push"
    assert by_kind["duplicate"]["status"] == 200
    assert by_kind["delivered"]["stage"] == "delivery" and by_kind["delivered"]["status"] == 200
    assert by_kind["delivered"]["payload"] == queued["payload"]
    rejected = by_kind["rejected"]
    assert rejected["status"] == 422 and rejected["queue_id"]
    assert rejected["reason"] == "prospect_phone: not a phone number (got 'not-a-number')"
    assert by_kind["unauthorized"]["status"] == 401 and "payload" not in by_kind["unauthorized"]
    dead = by_kind["dead_lettered"]
    assert (dead["status"], dead["reason"]) == (400, "http_400")
    assert dead["detail"] == '{"error":"campaign unknown for ******0187"}'
    retried = next(e for e in events if e["kind"] == "retried")
    assert (retried["dial_id"], retried["status"], retried["reason"]) == (
        "t-retry",
        503,
        "http_503",
    )
    assert "next attempt in" in retried["detail"] and retried["attempt"] >= 1
    assert unmasked_test_phones("\n".join(tail.lines())) == []
    assert tail.interrupt() == 0  # Ctrl-C


def test_tail_filters_by_source_and_outcome_in_readable_lines(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    tails: Callable[..., TailProcess],
) -> None:
    relay = start_relay(admin_token=TOKEN)
    tail = tails(
        "--url", relay.url, "--source", "other", "--outcome", "delivered", "--outcome", "rejected"
    )
    assert post(relay, "f-crm") == 202
    assert fake.wait_for(lambda: "f-crm" in fake.accepted_ids())
    assert post(relay, "f-bad", OTHER, prospect_phone="x") == 422
    assert post(relay, "f-other", OTHER) == 202
    assert tail.wait_until(lambda: any(" f-other " in line for line in tail.lines()))
    lines = tail.lines()
    assert len(lines) == 2, lines
    bad, delivered = lines
    assert bad.split("  ")[2:6] == ["other", "rejected", "-", "422"]
    assert "prospect_phone: not a phone number (got 'x')" in bad
    assert delivered.split("  ")[2:6] == ["other", "delivered", "f-other", "200"]
    assert '"ani":"******0100"' in delivered and '"dial_id":"f-other"' in delivered
    assert tail.interrupt() == 0


def test_the_event_feed_needs_the_admin_token(
    start_relay: Callable[..., RelayThread], tails: Callable[..., TailProcess], tmp_path: Path
) -> None:
    relay = start_relay(admin_token=TOKEN)
    feed = f"{relay.url}/admin/events"
    for headers in (
        {},
        {"Authorization": "Bearer wrong-admin-token-0001"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        answer = httpx.get(feed, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json() == {"status": "error", "error": "unauthorized"}
    wrong = {"RELAY_ADMIN_TOKEN": "wrong-admin-token-0001"}
    refused = tails("--url", relay.url, env=wrong, ready=False)
    assert refused.wait_exit() == 1
    assert "refused the admin token (401)" in refused.stderr()
    assert "wrong-admin-token-0001" not in refused.stderr()
    bad_filter = httpx.get(
        feed, params={"outcome": "delivred"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert bad_filter.status_code == 400
    assert bad_filter.json()["error"].startswith("unknown outcome 'delivred': use one of received")
    token_file = tmp_path / "admin-token"
    token_file.write_text(TOKEN + "\n")
    accepted = tails("--url", relay.url, "--token-file", str(token_file), env={})
    assert accepted.interrupt() == 0


def test_without_an_admin_token_the_feed_is_not_there(
    start_relay: Callable[..., RelayThread], tails: Callable[..., TailProcess]
) -> None:
    relay = start_relay()
    answer = httpx.get(f"{relay.url}/admin/events", headers={"Authorization": f"Bearer {TOKEN}"})
    nothing = httpx.get(f"{relay.url}/nothing-here")
    assert (answer.status_code, answer.content) == (404, nothing.content)
    tail = tails("--url", relay.url, ready=False)
    assert tail.wait_exit() == 1
    assert "no event feed (404)" in tail.stderr()


def test_a_stopping_relay_ends_the_stream(
    start_relay: Callable[..., RelayThread],
    tails: Callable[..., TailProcess],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay ends its streams as it stops: uvicorn neither waits for them until its
    graceful timeout nor cancels them then (an error, logged)."""
    relay = start_relay(admin_token=TOKEN)
    tail = tails("--url", relay.url)
    with caplog.at_level(logging.INFO):
        relay.stop()
    assert tail.wait_exit() == 1
    assert "ended the stream" in tail.stderr()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
