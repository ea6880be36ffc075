"""Golden tests: recorded-shape Genesys requests in, exactly the expected dial out.

EventBridge events are POSTed to a real relay, resolved through the fake Genesys Cloud API,
and the dial outboundIQ (the fake) receives is compared with the scenario's ``dial.json``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.mappings.conftest import (
    DATA_ACTION_KEY,
    SCENARIOS,
    fixture,
    post_event,
    wait_drained,
)
from tests.support.fake_genesys import FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

TERMINAL = ("customer.end", "acw", "wrapup")


def _event_name(envelope: dict[str, Any]) -> str:
    return str(envelope["detail"]["topicName"]).split(".", 5)[5]


def _send_all(relay: RelayThread, events: list[dict[str, Any]]) -> list[httpx.Response]:
    answers = [post_event(relay, e) for e in events]
    conversation = events[0]["detail"]["eventBody"]["conversationId"]
    first_terminal = next(i for i, e in enumerate(events) if _event_name(e) in TERMINAL)
    for i, (event, answer) in enumerate(zip(events, answers, strict=True)):
        if i == first_terminal:
            assert (answer.status_code, answer.json()) == (
                202,
                {"status": "queued", "dial_id": conversation},
            )
        elif _event_name(event) in TERMINAL:
            assert (answer.status_code, answer.json()["status"]) == (200, "duplicate")
        else:
            assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
    return answers


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_eventbridge_golden_dial(
    scenario: str, genesys_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Each recorded conversation, every event sent twice, becomes exactly its golden dial."""
    relay = genesys_relay()
    events = fixture(scenario, "events.json")
    _send_all(relay, [e for e in events for _ in range(2)])
    got = fake.wait_accepted(1)
    assert [r.json() for r in got] == [fixture(scenario, "dial.json")]
    wait_drained(relay)
    assert len(fake.accepted()) == 1


@pytest.mark.parametrize("order", ["reversed", "shuffled", "terminal-last"])
def test_agent_handled_dialer_call_in_any_order(
    order: str, genesys_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """The agent-handled dialer call's events, duplicated and in any order, make one dial."""
    relay = genesys_relay()
    events = fixture("outbound_agent", "events.json") * 2
    if order == "reversed":
        events.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(events)
    else:
        events.sort(key=lambda e: _event_name(e) in TERMINAL)
    _send_all(relay, events)
    got = fake.wait_accepted(1)
    assert [r.json() for r in got] == [fixture("outbound_agent", "dial.json")]
    wait_drained(relay)
    assert len(fake.accepted()) == 1


def test_system_wrapup_code_passes_through_without_lookup(
    genesys_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, genesys: FakeGenesys
) -> None:
    """An ININ-* wrap-up code is the disposition as it is, and is never looked up."""
    relay = genesys_relay()
    _send_all(relay, fixture("system_wrapup", "events.json"))
    got = fake.wait_accepted(1)
    assert got[0].json()["disposition_name"] == "ININ-WRAP-UP-TIMEOUT"
    assert genesys.calls("/api/v2/routing/wrapupcodes/") == 0


def test_data_action_golden_dial_and_dedupe(
    genesys_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, genesys: FakeGenesys
) -> None:
    """The Data Action body (free-format numbers, offset time) maps with no API call, once."""
    relay = genesys_relay()
    body = fixture("data_action", "body.json")
    headers = {"X-Api-Key": DATA_ACTION_KEY}
    first = httpx.post(f"{relay.url}/hooks/genesys-da", json=body, headers=headers)
    again = httpx.post(f"{relay.url}/hooks/genesys-da", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {"status": "duplicate", "dial_id": body["conversationId"]}
    got = fake.wait_accepted(1)
    assert [r.json() for r in got] == [fixture("data_action", "dial.json")]
    assert genesys.requests == []
