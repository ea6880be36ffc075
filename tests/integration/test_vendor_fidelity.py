"""Vendor fidelity through a real relay: sources configured as docs/vendors/*.md say, fed with
requests shaped as the vendors' own documentation shows (each test names its source).

Both queue backends run the Five9 case: the mapping layer does not depend on the queue, but the
rejected store (where a stripped secret must never land) does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support import scrape
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

FIVE9_TOKEN = "f9-hook-secret-0042"
DA_KEY = "da-key-fidelity-0001"
SOURCES = f"""
sources:
  five9:
    mapping: five9
    auth: {{type: query, param: token, secret: {FIVE9_TOKEN}}}
    timezone: UTC
    coalesce_seconds: 0  # one leg per call here; legs are tests/integration/test_legs.py's
  genesys-da:
    mapping: genesys-data-action
    auth: {{type: header, header: X-Api-Key, secret: {DA_KEY}}}
    timezone: America/Chicago
  crm:
    mapping: generic
    auth: {{type: none}}
"""
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# docs/vendors/five9.md, section 3: `token` is a *constant*. On a POST connector Five9 sends its
# constants in the form body with the variables (Configuration Web Services, webConnector:
# `constants`; only `postConstants`/`postVariables` go in the URL).
FIVE9_BODY = (
    f"token={FIVE9_TOKEN}&call_id=300000010272001&ani=5125550100&dnis=5125550144"
    "&campaign_id=1200734&campaign_name=Spring%20Renewals&agent_name=Jane%20Doe"
    "&disposition_name=Sale&type_name=Outbound&start_timestamp=20260821170000000"
    "&zip=%40Contact.zip%40&lead_source=Web"
)


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The settings of one queue backend."""
    if request.param == "sqlite":
        yield {"queue_url": f"sqlite:///{tmp_path}/queue.db"}
        return
    with unique_prefix(tmp_path) as prefix:
        yield {"queue_url": REDIS_URL, "redis_key_prefix": prefix}


def test_five9_post_with_the_token_constant_in_the_body(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue: dict[str, str]
) -> None:
    """The documented POST connector authenticates with `token` in the form body; the token
    never reaches the mapping, the rejected store or the preview, and a wrong one is 401."""
    relay = start_relay(SOURCES, **queue)
    ok = httpx.post(f"{relay.url}/hooks/five9", content=FIVE9_BODY, headers=FORM)
    assert ok.status_code == 202, ok.text
    [got] = fake.wait_accepted(1)
    assert got.json()["dial_id"] == "300000010272001"
    assert got.json()["zip"] == ""  # @Contact.zip@ did not substitute

    wrong = FIVE9_BODY.replace(FIVE9_TOKEN, "not-the-token")
    assert httpx.post(f"{relay.url}/hooks/five9", content=wrong, headers=FORM).status_code == 401
    in_url = httpx.post(  # URL first: a wrong token in the URL is not saved by the body's
        f"{relay.url}/hooks/five9?token=nope", content=FIVE9_BODY, headers=FORM
    )
    assert in_url.status_code == 401

    rejected_body = FIVE9_BODY.replace("disposition_name=Sale", "disposition_name=")
    rejected = httpx.post(f"{relay.url}/hooks/five9", content=rejected_body, headers=FORM)
    assert rejected.status_code == 422
    [kept] = relay.call(relay.runtime.queue.list_rejected(source="five9"))
    assert FIVE9_TOKEN.encode() not in kept.body and b"token=" not in kept.body
    assert kept.body.startswith(b"call_id=300000010272001&")  # the rest byte for byte
    assert FIVE9_TOKEN not in str(kept.query)

    preview = httpx.post(f"{relay.url}/preview/five9", content=FIVE9_BODY, headers=FORM)
    assert preview.status_code == 200
    assert FIVE9_TOKEN not in preview.text
    assert "zip: @Contact.zip@ did not substitute (treated as empty)" in preview.json()["warnings"]
    placeholders = scrape.value(
        relay.url, "relay_placeholder_values_total", source="five9", field="zip"
    )
    assert placeholders == 2  # the hook's two mapped requests; a preview is not counted


# Genesys' Velocity: "Formal notation ${variable}: if the variable is null, formal notation
# outputs the variable name" (https://help.mypurecloud.com/articles/velocity-macros-data-actions/).
# The body below is what the old recommended template (`"$esc.jsonString(${input.x})"`) renders
# for an inbound call whose workflow left campaignId, leadCreated and attempts unset.
UNSET = "$esc.jsonString(${{input.{}}})"
DA_BODY = {
    "conversationId": "8f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
    "conversationStart": "2026-03-14T12:01:02.345-05:00",
    "direction": "inbound",
    "ani": "tel:+15125550166",
    "dnis": "tel:+18005550100",
    "callerAddress": UNSET.format("callerAddress"),
    "campaignId": UNSET.format("campaignId"),
    "campaignName": UNSET.format("campaignName"),
    "agentName": "Jane Doe",
    "queueName": "Support",
    "wrapupCode": "Resolved",
    "dispositionName": UNSET.format("dispositionName"),
    "zip": UNSET.format("zip"),
    "leadSource": UNSET.format("leadSource"),
    "leadCreated": UNSET.format("leadCreated"),
    "attempts": UNSET.format("attempts"),
}


def test_genesys_data_action_with_unset_inputs(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Unrendered `${input.x}` values are empty: an inbound call stays Inbound with the
    business's number as ani, and unset dates and attempts no longer make a 422."""
    relay = start_relay(SOURCES)
    r = httpx.post(
        f"{relay.url}/hooks/genesys-da",
        content=orjson.dumps(DA_BODY),
        headers={"Content-Type": "application/json", "X-Api-Key": DA_KEY},
    )
    assert r.status_code == 202, r.text
    [got] = fake.wait_accepted(1)
    dial = got.json()
    assert dial["call_direction"] == "Inbound"
    assert (dial["ani"], dial["prospect_phone"]) == ("8005550100", "5125550166")
    assert dial["campaign_id"] == dial["campaign_name"] == ""
    assert dial["sys_created_date_original"] == dial["total_dial_attempts"] == ""
    for field in ("campaign_id", "sys_created_date_original", "total_dial_attempts", "zip"):
        count = scrape.value(
            relay.url, "relay_placeholder_values_total", source="genesys-da", field=field
        )
        assert count == 1, field


def test_unknown_direction_is_sent_as_is_flagged_and_counted(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """A direction word outside the table is passed on unchanged, warned in the preview and
    counted; a 3-way call is a Transfer."""
    relay = start_relay(SOURCES)
    base = {
        "ani": "5125550100",
        "prospect_phone": "5125550145",
        "datetime": "2026-08-21T17:00:00Z",
        "disposition_name": "Sale",
    }
    drift = {**base, "dial_id": "drift-1", "call_direction": "Queue Callback"}
    preview = httpx.post(f"{relay.url}/preview/crm", json=drift).json()
    assert preview["dial"]["call_direction"] == "Queue Callback"
    assert any(w.startswith("call_direction: 'Queue Callback' is not") for w in preview["warnings"])
    assert httpx.post(f"{relay.url}/hooks/crm", json=drift).status_code == 202
    three_way = {**base, "dial_id": "drift-2", "call_direction": "3WAY"}
    assert httpx.post(f"{relay.url}/hooks/crm", json=three_way).status_code == 202
    got = {r.json()["dial_id"]: r.json() for r in fake.wait_accepted(2)}
    assert got["drift-1"]["call_direction"] == "Queue Callback"
    assert got["drift-2"]["call_direction"] == "Transfer"
    unknown = scrape.value(
        relay.url, "relay_unknown_values_total", source="crm", field="call_direction"
    )
    assert unknown == 1
