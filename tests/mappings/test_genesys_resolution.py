"""Resolving Genesys conversations: the 5 s answer, Genesys API errors, holds, dead letters."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import orjson
import pytest

from relay.queue.base import DeadDial
from tests.mappings.conftest import fixture, post_event, wait_drained
from tests.support.fake_genesys import CLIENT_SECRET, FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

INBOUND_END = fixture("inbound", "events.json")[0]  # customer.end
OUTBOUND_ACW = fixture("outbound_agent", "events.json")[3]  # acw
INBOUND_ID = INBOUND_END["detail"]["eventBody"]["conversationId"]
OUTBOUND_ID = OUTBOUND_ACW["detail"]["eventBody"]["conversationId"]


def _dead(relay: RelayThread) -> list[DeadDial]:
    found: list[DeadDial] = relay.call(relay.runtime.queue.list_dead())
    return found


def test_eventbridge_is_answered_while_genesys_hangs(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """With Genesys' API hanging, events are still answered within EventBridge's 5 s."""
    genesys.hold("/api/v2/analytics")
    relay = genesys_relay(env={"SETTLE_SECONDS": "0"})
    assert post_event(relay, INBOUND_END).status_code == 202
    assert genesys.wait_for(lambda: genesys.waiting >= 1)  # a resolution is stuck in Genesys
    answer = post_event(relay, OUTBOUND_ACW)  # httpx raises past 5 s, as EventBridge gives up
    assert answer.status_code == 202
    assert genesys.waiting >= 1
    assert fake.accepted() == []
    genesys.release()
    got = fake.wait_accepted(2)
    assert sorted(r.json()["dial_id"] for r in got) == sorted([INBOUND_ID, OUTBOUND_ID])


def test_429_honours_retry_after(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """A 429 from Genesys is retried no sooner than its Retry-After."""
    genesys.fail("/api/v2/analytics", Reply(429, headers={"Retry-After": "1"}))
    relay = genesys_relay()
    post_event(relay, INBOUND_END)
    assert [r.json()["dial_id"] for r in fake.wait_accepted(1)] == [INBOUND_ID]
    tries = [at for _m, path, _s, at in genesys.timed() if path.startswith("/api/v2/analytics")]
    assert len(tries) == 2
    assert tries[1] - tries[0] >= 0.95


@pytest.mark.parametrize(
    ("prefix", "failures"),
    [
        ("/api/v2/analytics", [Reply(500), Reply(503), Reply(502)]),
        ("/api/v2/users/", [Reply(500)]),
        ("/oauth/token", [Reply(503)]),
        ("/api/v2/analytics", [Reply(200, delay=1.5)]),  # slower than the client's timeout
    ],
    ids=["details-5xx", "lookup-5xx", "token-5xx", "timeout"],
)
def test_genesys_failures_are_retried(
    prefix: str,
    failures: list[Reply],
    genesys_relay: Callable[..., RelayThread],
    genesys: FakeGenesys,
    fake: FakeOutboundIQ,
) -> None:
    """5xx answers and timeouts from Genesys are retried with backoff until the dial is made."""
    genesys.fail(prefix, *failures)
    relay = genesys_relay(env={"TIMEOUT_SECONDS": "0.5"})
    post_event(relay, INBOUND_END)
    got = fake.wait_accepted(1)
    assert [r.json() for r in got] == [fixture("inbound", "dial.json")]
    assert genesys.calls(prefix) == len(failures) + 1


def test_refused_credentials_hold_the_source_until_fixed(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """A refused OAuth client holds the source (intake still answers); a fix resumes it."""
    genesys.client_secret = "rotated-by-the-admin"
    relay = genesys_relay()
    assert post_event(relay, INBOUND_END).status_code == 202
    forwarder = relay.runtime.forwarder
    assert forwarder is not None
    assert genesys.wait_for(lambda: "resolve:genesys" in forwarder.holds)
    assert post_event(relay, OUTBOUND_ACW).status_code == 202
    assert fake.accepted() == []
    genesys.client_secret = CLIENT_SECRET  # the admin restores the secret
    got = fake.wait_accepted(2)
    assert sorted(r.json()["dial_id"] for r in got) == sorted([INBOUND_ID, OUTBOUND_ID])
    assert "resolve:genesys" not in forwarder.holds
    assert _dead(relay) == []


def test_revoked_token_is_replaced_once(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """A token Genesys stops accepting before it expires is replaced, without a hold."""
    relay = genesys_relay()
    post_event(relay, INBOUND_END)
    fake.wait_accepted(1)
    genesys.revoke_tokens()
    post_event(relay, OUTBOUND_ACW)
    assert len(fake.wait_accepted(2)) == 2
    assert genesys.calls("/oauth/token") == 2


def test_unresolvable_conversation_is_dead_lettered_then_replayable(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """A conversation Genesys never shows is dead-lettered with the reason, and replays later."""
    details = genesys.conversations.pop(INBOUND_ID)
    relay = genesys_relay(env={"RESOLVE_TIMEOUT_SECONDS": "0.3"})
    post_event(relay, INBOUND_END)
    wait_drained(relay)
    [dead] = _dead(relay)
    assert (dead.dial_id, dead.reason) == (INBOUND_ID, "resolve_timeout")
    assert "not in Genesys analytics" in dead.response_body
    assert orjson.loads(dead.payload)["conversationId"] == INBOUND_ID
    genesys.conversations[INBOUND_ID] = details
    assert relay.call(relay.runtime.queue.replay_dead([dead.id], now=time.time())) == 1
    assert relay.loop is not None and relay.runtime.forwarder is not None
    relay.loop.call_soon_threadsafe(relay.runtime.forwarder.wake)
    assert [r.json() for r in fake.wait_accepted(1)] == [fixture("inbound", "dial.json")]


def test_unmappable_conversation_is_dead_lettered_with_problems(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """Details that cannot make a dial (no numbers, no result) are dead-lettered, not dropped."""
    genesys.conversations[INBOUND_ID] = [{"conversationId": INBOUND_ID, "participants": []}]
    body = copy.deepcopy(INBOUND_END)
    for key in ("ani", "dnis"):
        del body["detail"]["eventBody"][key]
    relay = genesys_relay()
    post_event(relay, body)
    wait_drained(relay)
    [dead] = _dead(relay)
    assert dead.reason == "resolve_unmappable"
    assert "prospect_phone" in dead.response_body
    assert fake.accepted() == []


def _in_wrapup(details: dict[str, object]) -> dict[str, object]:
    """The same conversation while the agent is still in after-call work."""
    pending = copy.deepcopy(details)
    del pending["conversationEnd"]
    agent = pending["participants"][1]  # type: ignore[index]
    wrapup = agent["sessions"][0]["segments"][-1]
    del wrapup["segmentEnd"], wrapup["wrapUpCode"]
    return pending


def test_resolution_waits_for_the_agents_wrapup(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """While the agent is in after-call work the job waits, then takes the wrap-up code."""
    details = fixture("outbound_agent", "details.json")
    genesys.conversations[OUTBOUND_ID] = [_in_wrapup(details), _in_wrapup(details), details]
    relay = genesys_relay()
    post_event(relay, OUTBOUND_ACW)
    got = fake.wait_accepted(1)
    assert [r.json() for r in got] == [fixture("outbound_agent", "dial.json")]
    assert genesys.calls("/api/v2/analytics") == 3


def test_a_wrapup_that_never_comes_falls_back_to_the_dialer_result(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """Past wrapup_wait_seconds the dial is sent with the dialer's result as disposition."""
    genesys.conversations[OUTBOUND_ID] = [_in_wrapup(fixture("outbound_agent", "details.json"))]
    relay = genesys_relay(env={"WRAPUP_WAIT_SECONDS": "0.2"})
    post_event(relay, OUTBOUND_ACW)
    [got] = fake.wait_accepted(1)
    assert got.json()["disposition_name"] == "person"
