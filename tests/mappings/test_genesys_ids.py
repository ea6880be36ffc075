"""Genesys ids are path segments of Genesys API calls: anything but a UUID is refused before
any call, as a field error at intake (422, kept) and again by the API client itself.

A ``conversationId`` of ``..`` once made the relay send its OAuth token to another Genesys
path (``/api/v2/analytics/conversations/../details``).
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from mappings.genesys.api import GenesysApi
from mappings.genesys.data_action import GenesysDataActionMapping
from mappings.genesys.eventbridge import JOB_KIND, GenesysMapping
from mappings.genesys.ids import is_genesys_id
from relay.core.mapping import InboundRequest, MappingContext, PendingJob
from relay.exceptions import MappingError
from tests.mappings.conftest import DATA_ACTION_KEY, fixture, post_event
from tests.support.fake_genesys import CLIENT_ID, CLIENT_SECRET, FakeGenesys
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CONTEXT = MappingContext(source="genesys", tz=UTC, timezone_name="UTC")
OPTIONS = {"client_id": "c", "client_secret": "s"}
HOSTILE = ["..", "../../oauth/token", "%2e%2e", "a/b", "x?y=1", "", " ", "conv-1", "é" * 36]


def _request(data: Any) -> InboundRequest:
    return InboundRequest("POST", "application/json", {}, b"", data)


def _acw(conversation_id: str, topic_id: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(fixture("outbound_agent", "events.json")[-1])
    body = event["detail"]["eventBody"]
    body["conversationId"] = conversation_id
    topic = topic_id if topic_id is not None else conversation_id
    event["detail"]["topicName"] = f"v2.detail.events.conversation.{topic}.acw"
    return event


@given(st.uuids())
def test_uuids_are_ids_in_both_spellings(value: uuid.UUID) -> None:
    """Canonical (8-4-4-4-12) and 32-hex (outbound contact ids), any case."""
    assert is_genesys_id(str(value)) and is_genesys_id(value.hex)
    assert is_genesys_id(str(value).upper())


@given(st.text(max_size=40))
def test_an_id_is_always_a_safe_path_segment(text: str) -> None:
    """Whatever is accepted is hex digits and dashes: never `.`, `/`, `%`, `?` or space."""
    if is_genesys_id(text):
        assert set(text.lower()) <= set("0123456789abcdef-")
        assert uuid.UUID(text)


@pytest.mark.parametrize("bad", HOSTILE)
def test_eventbridge_conversation_id_is_a_field_error(bad: str) -> None:
    """The eventBody's id, or the topic's when the body names none, must be a UUID."""
    mapping = GenesysMapping(OPTIONS)
    if bad:  # an empty body id falls back to the topic's
        with pytest.raises(MappingError) as caught:
            mapping.map(_request(_acw(bad, topic_id=str(uuid.uuid4()))), CONTEXT)
        assert [p.field for p in caught.value.problems] == ["detail.eventBody.conversationId"]
    event = _acw("", topic_id=bad.strip() or "..")
    with pytest.raises(MappingError) as caught:
        mapping.map(_request(event), CONTEXT)
    assert caught.value.problems[0].field in ("detail.topicName", "detail.eventBody.conversationId")


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (("conversationId",), "conversationId"),
        (("participants", 1, "userId"), "userId"),
        (("participants", 1, "sessions", 0, "segments", 0, "queueId"), "queueId"),
        (("participants", 0, "sessions", 0, "outboundCampaignId"), "outboundCampaignId"),
        (("participants", 0, "sessions", 0, "outboundContactListId"), "outboundContactListId"),
        (("participants", 0, "sessions", 0, "outboundContactId"), "outboundContactId"),
        (("participants", 1, "sessions", 0, "segments", -1, "wrapUpCode"), "wrapUpCode"),
    ],
)
def test_every_id_of_a_details_record_is_checked_at_intake(
    where: tuple[Any, ...], field: str
) -> None:
    """A details record (backfill, or POSTed) names ids the resolution will look up: each one
    is checked when it arrives, so a bad one is a 422 field error, not a Genesys call."""
    details = copy.deepcopy(fixture("outbound_agent", "details.json"))
    node: Any = details
    for step in where[:-1]:
        node = node[step]
    assert where[-1] in node, f"the fixture has no {where}"
    node[where[-1]] = "../../oauth/token"
    with pytest.raises(MappingError) as caught:
        GenesysMapping(OPTIONS).map(_request(details), CONTEXT)
    assert [p.field for p in caught.value.problems] == [field]
    assert "not a Genesys id" in caught.value.problems[0].problem


def test_system_wrapup_codes_are_not_ids_and_pass() -> None:
    """ININ-* wrap-up codes are Genesys' own names: never looked up, so never refused."""
    details = copy.deepcopy(fixture("system_wrapup", "details.json"))
    result = GenesysMapping(OPTIONS).map(_request(details), CONTEXT)
    assert result.job is not None


@pytest.mark.parametrize("bad", HOSTILE)
def test_data_action_conversation_id_is_a_field_error(bad: str) -> None:
    """The Data Action's conversationId is the dial_id: a UUID, like every Genesys id."""
    body = fixture("data_action", "body.json") | {"conversationId": bad}
    with pytest.raises(MappingError) as caught:
        GenesysDataActionMapping().map(_request(body), CONTEXT)
    assert [p.field for p in caught.value.problems] == ["conversationId"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "call",
    [
        lambda api: api.conversation(".."),
        lambda api: api.user("../../oauth/token"),
        lambda api: api.queue("a/b"),
        lambda api: api.wrapup_code("%2e%2e"),
        lambda api: api.campaign(""),
        lambda api: api.contact("..", "38a1195b0f6285bfe8086ffd6e0be2e1"),
        lambda api: api.contact("d4f05236-8c46-43c7-a5a4-bd50b4773f67", ".."),
    ],
)
async def test_the_api_client_refuses_a_non_uuid_before_any_request(
    genesys: FakeGenesys, call: Callable[[GenesysApi], Any]
) -> None:
    """Defence in depth: the client builds no URL from a non-UUID, and fetches no token."""
    api = GenesysApi(
        api_url=genesys.url,
        login_url=genesys.url,
        client_id=CLIENT_ID,
        client_secret=SecretStr(CLIENT_SECRET),
    )
    try:
        with pytest.raises(MappingError, match="not a Genesys id"):
            await call(api)
    finally:
        await api.aclose()
    assert genesys.requests == []


def test_a_hostile_id_at_intake_is_kept_and_never_reaches_genesys(
    genesys_relay: Callable[..., RelayThread], genesys: FakeGenesys, fake: FakeOutboundIQ
) -> None:
    """A real relay answers 422 naming the field, keeps the request for replay, and neither
    Genesys (no token, no lookup) nor outboundIQ hears of it."""
    relay = genesys_relay()
    answer = post_event(relay, _acw("..", topic_id=str(uuid.uuid4())))
    assert answer.status_code == 422
    body = answer.json()
    assert body["status"] == "rejected" and body["rejected_id"]
    assert [e["field"] for e in body["errors"]] == ["detail.eventBody.conversationId"]
    kept = relay.call(relay.runtime.queue.get_rejected(body["rejected_id"]))
    assert kept is not None and kept.source == "genesys"
    da = httpx.post(
        f"{relay.url}/hooks/genesys-da",
        json=fixture("data_action", "body.json") | {"conversationId": "../x"},
        headers={"X-Api-Key": DATA_ACTION_KEY},
    )
    assert da.status_code == 422
    assert relay.call(relay.runtime.queue.stats(now=time.time())).ready == 0
    assert genesys.requests == [] and fake.requests == []


@pytest.mark.anyio
async def test_ids_in_genesys_own_answer_are_checked_before_the_lookups(
    genesys: FakeGenesys,
) -> None:
    """Resolution reads the conversation, then checks its ids before looking any up: a bad
    one is a MappingError (the job is dead-lettered, kept), and no lookup is sent."""
    details = copy.deepcopy(fixture("outbound_agent", "details.json"))
    details["participants"][1]["userId"] = "../../oauth/token"
    genesys.conversations[details["conversationId"]] = [details]
    mapping = GenesysMapping(
        OPTIONS
        | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        | {"region": genesys.url, "login_url": genesys.url}
    )
    payload = orjson.dumps(
        {"conversationId": details["conversationId"], "event": "acw", "body": {}}
    )
    job = PendingJob(JOB_KIND, details["conversationId"], payload, received_at=0.0, attempts=1)
    try:
        with pytest.raises(MappingError, match="userId: not a Genesys id"):
            await mapping.resolve(job, CONTEXT)
    finally:
        await mapping.aclose()
    assert genesys.calls("/api/v2/analytics/") == 1
    assert genesys.calls("/api/v2/users/") == genesys.calls("/api/v2/routing/") == 0
