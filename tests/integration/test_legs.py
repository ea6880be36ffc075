"""A call reported in legs: Five9 fires On Call Dispositioned once per agent of a transferred
call, with the same call_id. On a real relay the legs within the source's coalesce_seconds
become one dial (the first leg's numbers and time, the last leg's outcome), sent once after
the window; a leg after that is a duplicate. SQLite and Redis alike, across a restart, and
with legs arriving at once on two replicas.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import scrape
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

CALL_ID = "300000010270765"


def sources(window: float) -> str:
    return f"""
sources:
  five9:
    mapping: five9
    auth: {{type: query, param: token, secret: five9-hook-secret}}
    coalesce_seconds: {window}
"""


FIRST_LEG = {  # the opener: transfers the call to a closer, then dispositions it
    "call_id": CALL_ID,
    "ani": "5125550100",
    "dnis": "5125550189",
    "type_name": "Outbound",
    "campaign_name": "Q3 Renewals",
    "agent_name": "Al Black",
    "disposition_name": "Transferred To 3rd Party",
    "skill_name": "Sales Tier 1",
    "start_timestamp": "20260821161000000",
    "lead_source": "Aug Leads",
}
SECOND_LEG = {  # the closer, minutes later: other numbers and time on its leg, and the Sale
    **FIRST_LEG,
    "dnis": "5125550999",
    "type_name": "3rd party transfer",
    "agent_name": "Cy White",
    "disposition_name": "Sale",
    "skill_name": "Closers",
    "start_timestamp": "20260821161140000",
    "lead_source": "",
}
MERGED = {
    "campaign_id": "",
    "campaign_name": "Q3 Renewals",
    "agent_name": "Cy White",
    "ani": "5125550100",
    "disposition_name": "Sale",
    "prospect_phone": "5125550189",
    "datetime": "2026-08-21 16:10:00",
    "call_direction": "Outbound",
    "zip": "",
    "sys_created_date_original": "",
    "total_dial_attempts": "",
    "skill_name": "Closers",
    "lead_source": "Aug Leads",
    "dial_id": CALL_ID,
}


def post_leg(relay: RelayThread, leg: dict[str, str]) -> httpx.Response:
    """A Five9 Web Connector POST: the legs' variables as a form, the secret in the URL."""
    return httpx.post(
        f"{relay.url}/hooks/five9", params={"token": "five9-hook-secret"}, data=leg, timeout=10
    )


def test_two_legs_become_one_dial_sent_once(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue_mode: dict[str, Any]
) -> None:
    """Two legs within the window: one POST with the second leg's Sale and the first leg's
    numbers and time; a third leg after the send is a duplicate."""
    relay = start_relay(sources(2.0), **queue_mode)
    first = post_leg(relay, FIRST_LEG)
    assert (first.status_code, first.json()) == (202, {"status": "queued", "dial_id": CALL_ID})
    second = post_leg(relay, SECOND_LEG)
    assert (second.status_code, second.json()) == (
        202,
        {"status": "coalesced", "dial_id": CALL_ID},
    )
    (sent,) = fake.wait_accepted(1, timeout=30)
    assert sent.json() == MERGED
    third = post_leg(relay, {**SECOND_LEG, "disposition_name": "Callback Scheduled"})
    assert (third.status_code, third.json()) == (200, {"status": "duplicate", "dial_id": CALL_ID})
    counted = scrape.samples(relay.url, "relay_webhooks_total")
    outcomes = {labels["outcome"]: n for labels, n in counted if labels["source"] == "five9"}
    assert outcomes == {"queued": 1, "coalesced": 1, "duplicate": 1}
    assert fake.accepted_counts() == {CALL_ID: 1}


def test_a_held_dial_survives_a_restart(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue_mode: dict[str, Any]
) -> None:
    """Leg 1, the relay stops and starts again, leg 2: one dial with both (the restart
    neither sent it early, or leg 2 would be a duplicate, nor lost it)."""
    before = start_relay(sources(5.0), **queue_mode)
    assert post_leg(before, FIRST_LEG).json()["status"] == "queued"
    before.stop()
    after = start_relay(sources(5.0), **queue_mode)
    assert post_leg(after, SECOND_LEG).json() == {"status": "coalesced", "dial_id": CALL_ID}
    (sent,) = fake.wait_accepted(1, timeout=30)
    assert sent.json() == MERGED


@pytest.mark.redis
def test_legs_at_once_on_two_replicas_are_both_kept(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """Two legs posted at the same moment to two replicas: one is stored, the other merged
    into it, and what each alone carried (one an agent, the other a skill) is in the dial."""
    only_agent = {**FIRST_LEG, "skill_name": "", "agent_name": "Al Black"}
    only_skill = {**SECOND_LEG, "agent_name": "", "skill_name": "Closers"}
    with unique_prefix(tmp_path) as prefix:
        replicas = [
            start_relay(
                sources(3.0), queue_url=REDIS_URL, redis_key_prefix=prefix, redis_consumer=name
            )
            for name in ("a", "b")
        ]
        barrier = threading.Barrier(2)

        def send(pair: tuple[RelayThread, dict[str, str]]) -> str:
            barrier.wait()
            return str(post_leg(*pair).json()["status"])

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(send, zip(replicas, [only_agent, only_skill], strict=True)))
        assert sorted(answers) == ["coalesced", "queued"]
        (sent,) = fake.wait_accepted(1, timeout=30)
        dial = sent.json()
        assert (dial["agent_name"], dial["skill_name"]) == ("Al Black", "Closers")
        assert dial["disposition_name"] in ("Transferred To 3rd Party", "Sale")
