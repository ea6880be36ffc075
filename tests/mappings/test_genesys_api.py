"""The Genesys API client and ``resolve`` against the fake Genesys Cloud API: caching, tokens,
and how Genesys' answers become retries, holds and dead letters."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC
from typing import Any

import orjson
import pytest

from mappings.genesys.eventbridge import JOB_KIND, GenesysMapping
from relay.core.mapping import MappingContext, MappingResult, PendingJob
from relay.exceptions import MappingError, ResolveAuthError, ResolveError
from tests.mappings.conftest import fixture
from tests.support.fake_genesys import CLIENT_ID, CLIENT_SECRET, FakeGenesys
from tests.support.fake_outboundiq import Reply

pytestmark = pytest.mark.anyio

CONTEXT = MappingContext(source="genesys", tz=UTC, timezone_name="UTC")
LOOKUPS = (
    "/api/v2/users/",
    "/api/v2/routing/queues/",
    "/api/v2/routing/wrapupcodes/",
    "/api/v2/outbound/campaigns/",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mapping(genesys: FakeGenesys) -> GenesysMapping:
    built = GenesysMapping(
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "region": genesys.url,
            "login_url": genesys.url,
            "cache_ttl_seconds": 600,
            "timeout_seconds": 10,
            "contact_columns": {"zip": "ZipCode"},
        }
    )
    built.api.clock = Clock()
    return built


def _job(conversation_id: str, event: dict[str, Any] | None = None) -> PendingJob:
    payload = orjson.dumps({"conversationId": conversation_id, "event": "acw", "body": event or {}})
    return PendingJob(JOB_KIND, conversation_id, payload, received_at=0.0, attempts=1)


async def _resolve(mapping: GenesysMapping, conversation_id: str) -> MappingResult:
    return await mapping.resolve(_job(conversation_id), CONTEXT)


def _clone_conversations(genesys: FakeGenesys, count: int, prefix: str) -> list[str]:
    template = fixture("outbound_agent", "details.json")
    ids = []
    for i in range(count):
        details = copy.deepcopy(template)
        details["conversationId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}-{i}"))
        genesys.conversations[details["conversationId"]] = [details]
        ids.append(details["conversationId"])
    return ids


async def test_lookups_are_cached_per_ttl(mapping: GenesysMapping, genesys: FakeGenesys) -> None:
    """100 conversations of one agent, queue, campaign and wrap-up call each lookup once per TTL."""
    ids = _clone_conversations(genesys, 100, "conv")
    try:
        results = await asyncio.gather(*(_resolve(mapping, i) for i in ids))
        assert {r.fields["agent_name"] for r in results} == {"Jane Doe"}
        assert {r.fields["disposition_name"] for r in results} == {"Sale"}
        assert [genesys.calls(p) for p in LOOKUPS] == [1, 1, 1, 1]
        assert genesys.calls("/oauth/token") == 1
        assert genesys.calls("/api/v2/analytics/") == 100
        assert genesys.calls("/api/v2/outbound/contactlists/") == 100  # contacts change per call
        mapping.api.clock.now += 601  # type: ignore[attr-defined]
        more = _clone_conversations(genesys, 10, "later")
        await asyncio.gather(*(_resolve(mapping, i) for i in more))
        assert [genesys.calls(p) for p in LOOKUPS] == [2, 2, 2, 2]
        assert genesys.calls("/oauth/token") == 1
    finally:
        await mapping.aclose()


async def test_token_is_refreshed_before_it_expires(
    mapping: GenesysMapping, genesys: FakeGenesys
) -> None:
    """The cached token is replaced shortly before Genesys' expires_in runs out."""
    genesys.token_ttl = 600
    try:
        await mapping.api.token()
        mapping.api.clock.now += 530  # type: ignore[attr-defined]
        await mapping.api.token()
        assert genesys.calls("/oauth/token") == 1
        mapping.api.clock.now += 20  # type: ignore[attr-defined]  # inside the 60 s margin
        await mapping.api.token()
        assert genesys.calls("/oauth/token") == 2
    finally:
        await mapping.aclose()


@pytest.mark.parametrize(
    ("reply", "error", "reason"),
    [
        (Reply(429, headers={"Retry-After": "7"}), ResolveError, "http_429"),
        (Reply(503), ResolveError, "http_503"),
        (Reply(403), ResolveAuthError, "http_403"),
        (Reply(400), MappingError, None),
    ],
    ids=["429", "503", "403", "400"],
)
async def test_genesys_answers_become_resolution_outcomes(
    reply: Reply,
    error: type[Exception],
    reason: str | None,
    mapping: GenesysMapping,
    genesys: FakeGenesys,
) -> None:
    """429/5xx retry (with the hint), 401/403 hold the source, other 4xx are unmappable."""
    genesys.fail("/api/v2/analytics", reply)
    try:
        with pytest.raises(error) as caught:
            await _resolve(mapping, fixture("inbound", "details.json")["conversationId"])
        if reason is not None:
            assert caught.value.reason == reason  # type: ignore[attr-defined]
        if reply.status == 429:
            assert caught.value.retry_after == 7  # type: ignore[attr-defined]
    finally:
        await mapping.aclose()


async def test_bad_client_secret_is_an_auth_error_without_the_secret(
    genesys: FakeGenesys,
) -> None:
    """A refused OAuth client raises ResolveAuthError; the secret is in no message or repr."""
    mapping = GenesysMapping(
        {
            "client_id": CLIENT_ID,
            "client_secret": "wrong-secret-value",
            "region": genesys.url,
            "login_url": genesys.url,
        }
    )
    try:
        with pytest.raises(ResolveAuthError) as caught:
            await _resolve(mapping, str(uuid.uuid4()))
        assert caught.value.reason == "token_http_401"
        for text in (str(caught.value), repr(mapping), repr(mapping.api), repr(mapping.options)):
            assert "wrong-secret-value" not in text
    finally:
        await mapping.aclose()


async def test_missing_user_and_wrapup_code_fall_back_with_warnings(
    mapping: GenesysMapping, genesys: FakeGenesys
) -> None:
    """A deleted user or wrap-up code does not block the dial: names fall back, with warnings."""
    details = fixture("outbound_agent", "details.json")
    genesys.users.clear()
    genesys.wrapupcodes.clear()
    try:
        result = await _resolve(mapping, details["conversationId"])
    finally:
        await mapping.aclose()
    agent = details["participants"][1]
    assert result.fields["agent_name"] == agent["participantName"]
    assert result.fields["disposition_name"] == agent["sessions"][0]["segments"][-1]["wrapUpCode"]
    assert len(result.warnings) == 2
