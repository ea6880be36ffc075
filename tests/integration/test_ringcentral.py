"""RingCentral telephony session webhooks on a real relay, configured as
docs/vendors/ringcentral.md says, with a fake RingCentral that speaks the protocol: the
subscription's ``Validation-Token`` handshake answered (and nothing stored), every event of a
call delivered out of order with the subscription's ``Verification-Token``, a forged token
refused (401, counted), the non-final events ``200 ignored`` without storing anything, and
exactly ONE dial per telephony session at outboundIQ, on SQLite and on Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.config.settings import Settings
from relay.queue.registry import create_queue
from tests.mappings.golden import case
from tests.support import scrape
from tests.support.cli import run_relay
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.fake_ringcentral import FakeRingCentral, SubscriptionRefused, response_size
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

TOKEN = "rc-verification-token-0001"
SOURCES = f"""
sources:
  ringcentral:
    mapping: ringcentral
    auth: {{type: verification-token, secret: {TOKEN}}}
    options:
      routing_extensions: ["62242421016"]   # IVR Menu 1001
"""
#: One outbound call, every event RingCentral sent (corpus files), in the order of arrival
#: chosen here: out of sequence, the final event twice.
OUTBOUND = [
    "outbound_customer_ringing_ignored",
    "outbound_agent_setup_ignored",
    "outbound_customer_answered_ignored",
    "outbound_agent_hung_up_ignored",
    "outbound_agent_hold_ignored",
    "outbound_customer_hung_up",
]
INBOUND = [
    "inbound_caller_setup_ignored",
    "inbound_ivr_routed_on_ignored",
    "inbound_agent_hung_up_ignored",
    "inbound_ivr_caller_hung_up",
]
INTERNAL = "internal_call_setup_ignored"


def notification(name: str) -> dict[str, Any]:
    body: dict[str, Any] = case(f"ringcentral/{name}").request["body"]
    return body


def expected(name: str) -> dict[str, Any]:
    dial = case(f"ringcentral/{name}").expected
    assert dial is not None
    return dial


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, make_settings: Callable[..., Settings]
) -> Iterator[Settings]:
    """Each queue backend (Redis: a key prefix of this test's own)."""
    if request.param == "sqlite":
        yield make_settings()
        return
    with unique_prefix(tmp_path) as prefix:
        yield make_settings(queue_url=REDIS_URL, redis_key_prefix=prefix)


def stored(settings: Settings, session_ids: list[str]) -> tuple[int, list[bool]]:
    """What the queue holds (every item: ready, delayed, leased, dead, rejected), and whether
    each session id was ever accepted (its dedupe entry)."""

    async def read() -> tuple[int, list[bool]]:
        queue = create_queue(settings.queue_url, settings)
        await queue.open()
        try:
            now = time.time()
            stats = await queue.stats(now=now)
            held = stats.ready + stats.delayed + stats.leased + stats.dead + stats.rejected
            seen = [await queue.seen("ringcentral", sid, now=now) for sid in session_ids]
            return held, seen
        finally:
            await queue.close()

    return asyncio.run(read())


def outcomes(relay: RelayThread) -> dict[str, float]:
    counted = scrape.samples(relay.url, "relay_webhooks_total")
    return {labels["outcome"]: n for labels, n in counted if labels["source"] == "ringcentral"}


def test_the_subscription_handshake_is_echoed_and_stores_nothing(
    start_relay: Callable[..., RelayThread], settings: Settings
) -> None:
    """RingCentral's validation request: 200, the token echoed, a short JSON body, within
    RingCentral's 1024 bytes; before any token check; nothing stored."""
    relay = start_relay(SOURCES, settings=settings)
    ringcentral = FakeRingCentral(f"{relay.url}/hooks/ringcentral", TOKEN)
    answer = ringcentral.create_subscription()
    assert answer.json() == {"status": "validated"}
    assert answer.headers["content-type"] == "application/json"
    assert response_size(answer) <= 1024
    assert outcomes(relay) == {"validated": 1}
    relay.stop()
    assert stored(settings, []) == (0, [])


@pytest.mark.parametrize(
    "token",
    [
        "x" * 129,  # longer than a token
        "abc<script>",  # not token-shaped
        "a b",
    ],
)
def test_a_handshake_token_that_is_not_token_shaped_is_not_echoed(
    start_relay: Callable[..., RelayThread], make_settings: Callable[..., Settings], token: str
) -> None:
    relay = start_relay(SOURCES, settings=make_settings())
    ringcentral = FakeRingCentral(f"{relay.url}/hooks/ringcentral", TOKEN, validation_token=token)
    with pytest.raises(SubscriptionRefused):
        ringcentral.create_subscription()
    answer = httpx.post(f"{relay.url}/hooks/ringcentral", headers={"Validation-Token": token})
    assert answer.status_code == 401
    assert "validation-token" not in answer.headers


def test_a_delivery_carrying_validation_token_is_not_mistaken_for_the_handshake(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    make_settings: Callable[..., Settings],
) -> None:
    """RingCentral's "receiving webhooks" page shows the token as ``Validation-Token`` on
    deliveries: a notification (a body) with it is authenticated and mapped, never echoed."""
    relay = start_relay(SOURCES, settings=make_settings())
    answer = httpx.post(
        f"{relay.url}/hooks/ringcentral",
        json=notification("outbound_customer_hung_up"),
        headers={"Validation-Token": TOKEN},
    )
    assert answer.status_code == 202, answer.text
    assert "validation-token" not in answer.headers
    forged = httpx.post(
        f"{relay.url}/hooks/ringcentral",
        json=notification("outbound_customer_hung_up"),
        headers={"Validation-Token": "rc-wrong"},
    )
    assert forged.status_code == 401
    (sent,) = fake.wait_accepted(1, timeout=30)
    assert sent.json() == expected("outbound_customer_hung_up")


def test_every_event_of_two_calls_makes_one_dial_each(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, settings: Settings
) -> None:
    relay = start_relay(SOURCES, settings=settings)
    ringcentral = FakeRingCentral(f"{relay.url}/hooks/ringcentral", TOKEN)
    ringcentral.create_subscription()

    forged = ringcentral.deliver(notification("outbound_customer_hung_up"), token="rc-forged")
    assert forged.status_code == 401
    assert forged.json() == {"status": "error", "error": "unauthorized"}
    failures = scrape.value(relay.url, "relay_auth_failures_total", source="ringcentral")
    assert failures == 1

    answers = [ringcentral.deliver(notification(n)) for n in [*OUTBOUND, *INBOUND, INTERNAL]]
    statuses = [(a.status_code, a.json()["status"]) for a in answers]
    assert statuses == [
        *[(200, "ignored")] * 5,
        (202, "queued"),
        *[(200, "ignored")] * 3,
        (202, "queued"),
        (200, "ignored"),
    ]
    again = ringcentral.deliver(notification("outbound_customer_hung_up"))
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")

    sent = fake.wait_accepted(2, timeout=30)
    by_id = {r.json()["dial_id"]: r.json() for r in sent}
    assert by_id == {
        d["dial_id"]: d
        for d in (expected("outbound_customer_hung_up"), expected("inbound_ivr_caller_hung_up"))
    }
    assert fake.wait_for(lambda: len(fake.accepted()) == 2)
    assert outcomes(relay) == {
        "validated": 1,
        "unauthorized": 1,
        "ignored": 9,
        "queued": 2,
        "duplicate": 1,
    }
    relay.stop()
    internal = notification(INTERNAL)["body"]["telephonySessionId"]
    sessions = [d["dial_id"] for d in by_id.values()]
    assert stored(settings, [*sessions, internal]) == (0, [True, True, False])


def test_relay_preview_reads_a_notification_file(tmp_path: Path) -> None:
    """``relay preview ringcentral FILE``: the final event shows its dial (phones masked), an
    earlier one why it is ignored; both exit 0 and queue nothing."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    env = {"RELAY_OUTBOUNDIQ_API_KEY": "oiq-preview-key-0001"}
    final = case("ringcentral/outbound_customer_hung_up").path
    shown = run_relay("preview", "ringcentral", str(final), "--sources-file", str(sources), env=env)
    assert shown.returncode == 0, shown.stderr
    assert "ringcentral: ok: the hook would queue this dial" in shown.stdout
    assert "TESTER Babji" in shown.stdout
    assert "******8064" in shown.stdout and "4083388064" not in shown.stdout
    earlier = case("ringcentral/inbound_ivr_routed_on_ignored").path
    ignored = run_relay(
        "preview", "ringcentral", str(earlier), "--sources-file", str(sources), env=env
    )
    assert ignored.returncode == 0, ignored.stderr
    assert "ignored: an extension's party" in ignored.stdout
