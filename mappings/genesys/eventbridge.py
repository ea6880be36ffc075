"""Genesys Cloud through Amazon EventBridge: detail events in, one dial per conversation out.

No single detail event carries a whole dial, and EventBridge gives the relay 5 s to answer,
so the work is split:

1. ``map`` (on the request path, no API calls): a terminal event (``customer.end``, ``acw``,
   ``wrapup``) becomes one *resolve conversation* job keyed by the ``conversationId``, due
   after ``settle_seconds`` (so wrap-up can finish). Further terminal events of the same
   conversation are duplicates of that job. Other events (``outbound``, ``user.end``, …)
   and non-voice media are acknowledged and ignored: the analytics details the job reads
   carry everything they would add (campaign, contact list and contact ids).
2. ``resolve`` (in the forwarder, later): read the conversation's analytics details, name
   the ids through cached lookups, and return the Dials fields.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mappings.genesys.api import GenesysApi, login_url_for, normalize_api_url
from mappings.genesys.conversation import CallFacts, read_details
from mappings.genesys.ids import check_id, fact_problems
from mappings.genesys.rules import (
    TERMINAL_EVENTS,
    call_direction,
    choose_disposition,
    is_system_code,
    parse_topic,
    party_numbers,
)
from relay.sdk import (
    DIAL_FIELDS,
    DeferredJob,
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    PendingJob,
    Problem,
    ResolveError,
    only_dial_fields,
)

__all__ = ["JOB_KIND", "GenesysMapping", "GenesysOptions"]

JOB_KIND = "genesys.resolve"
_CONTACT_FIELDS = frozenset(DIAL_FIELDS) - {"dial_id"}


class GenesysOptions(BaseModel):
    """The ``options`` of a ``mapping: genesys`` source."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    region: str = "https://api.mypurecloud.com"  # or e.g. usw2.pure.cloud
    login_url: str | None = None  # derived from region (api.X → login.X) unless set
    settle_seconds: float = Field(default=60.0, ge=0)
    wrapup_wait_seconds: float = Field(default=900.0, ge=0)
    resolve_timeout_seconds: float = Field(default=24 * 3600.0, gt=0)
    cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    terminal_events: list[str] = Field(default_factory=lambda: list(TERMINAL_EVENTS))
    contact_columns: dict[str, str] = Field(default_factory=dict)
    contact_list_columns: dict[str, dict[str, str]] = Field(default_factory=dict)
    dispositions: dict[str, str] = Field(default_factory=dict)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return normalize_api_url(value)

    @field_validator("contact_columns")
    @classmethod
    def _columns(cls, value: dict[str, str]) -> dict[str, str]:
        only_dial_fields(value, _CONTACT_FIELDS)
        return value

    @field_validator("contact_list_columns")
    @classmethod
    def _list_columns(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for columns in value.values():
            cls._columns(columns)
        return value


def _event(data: Any) -> tuple[str, str, dict[str, Any]]:
    """(conversationId, event name, eventBody) of an EventBridge envelope or a bare detail."""
    if not isinstance(data, dict):
        raise MappingError([Problem("body", "expected an EventBridge event (a JSON object)")])
    detail = data.get("detail", data)
    body = detail.get("eventBody") if isinstance(detail, dict) else None
    if not isinstance(body, dict):
        raise MappingError([Problem("detail.eventBody", "missing: not a Genesys detail event")])
    topic = detail.get("topicName") or data.get("detail-type") or ""
    try:
        topic_conversation, event = parse_topic(str(topic))
    except ValueError as exc:
        raise MappingError([Problem("detail.topicName", f"{exc} (got {topic!r})")]) from None
    named = body.get("conversationId")
    where = "detail.eventBody.conversationId" if named else "detail.topicName"
    conversation_id = _text_id(named or topic_conversation, where)
    if not conversation_id:
        raise MappingError([Problem("detail.eventBody.conversationId", "missing or empty")])
    check_id(conversation_id, where)
    return conversation_id, event, body


def _text_id(value: object, field: str) -> str:
    """A conversation id as text; an object or a list is no id (it would become one)."""
    if isinstance(value, dict | list):
        raise MappingError([Problem(field, "not a text: a Genesys id is a UUID")])
    return str(value).strip()


class GenesysMapping:
    """``mapping: genesys``: EventBridge detail events, resolved through Genesys' API."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = GenesysOptions.model_validate(options or {})
        o = self.options
        self.resolve_timeout = o.resolve_timeout_seconds
        self.api = GenesysApi(
            api_url=o.region,
            login_url=o.login_url or login_url_for(o.region),
            client_id=o.client_id,
            client_secret=o.client_secret,
            timeout=o.timeout_seconds,
            cache_ttl=o.cache_ttl_seconds,
        )
        self.clock = time.time

    def __repr__(self) -> str:
        return f"GenesysMapping(region={self.options.region!r})"

    # --- on the request path: no API calls ----------------------------------------------
    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data
        if isinstance(data, dict) and "participants" in data and "conversationId" in data:
            return self._from_details(data)
        conversation_id, event, body = _event(request.data)
        media = str(body.get("mediaType") or "").strip()
        if media and media.upper() != "VOICE":
            return MappingResult({}, ignored=f"{media} conversations are not calls")
        if event not in self.options.terminal_events:
            return MappingResult({}, ignored=f"{event} events do not end a call")
        payload = orjson.dumps({"conversationId": conversation_id, "event": event, "body": body})
        job = DeferredJob(JOB_KIND, conversation_id, payload, self.options.settle_seconds)
        return MappingResult({}, job=job)

    def _from_details(self, details: dict[str, Any]) -> MappingResult:
        """An analytics conversation record (backfill: a details query or job result).

        It already holds the call, so the job carries it and resolution only names the ids.
        """
        conversation_id = _text_id(details["conversationId"], "conversationId")
        if not conversation_id:
            raise MappingError([Problem("conversationId", "missing or empty")])
        check_id(conversation_id, "conversationId")
        problems = fact_problems(read_details(details))  # the ids resolution will look up
        if problems:
            raise MappingError(problems)
        if not details.get("conversationEnd"):
            return MappingResult({}, ignored="the conversation has not ended")
        payload = orjson.dumps(
            {"conversationId": conversation_id, "event": "details", "body": {}, "details": details}
        )
        return MappingResult({}, job=DeferredJob(JOB_KIND, conversation_id, payload, 0.0))

    # --- in the forwarder ------------------------------------------------------------------
    async def resolve(self, job: PendingJob, context: MappingContext) -> MappingResult:
        stored = orjson.loads(job.payload)
        event: dict[str, Any] = stored.get("body") or {}
        details = stored.get("details") or await self.api.conversation(stored["conversationId"])
        facts = read_details(details)
        problems = fact_problems(facts)  # Genesys' own answer, checked like a request
        if problems:
            raise MappingError(problems)
        waited = self.clock() - job.received_at
        historical = "details" in stored  # a backfilled record: nobody is wrapping up now
        if facts.wrapup_pending and not historical and waited < self.options.wrapup_wait_seconds:
            raise ResolveError(
                f"conversation {job.key}: the agent has not wrapped up yet",
                reason="wrapup_pending",
                retry_after=self.options.settle_seconds,
            )
        return await self._fields(facts, event)

    async def _fields(self, facts: CallFacts, event: dict[str, Any]) -> MappingResult:
        warnings: list[str] = []
        api = self.api
        user, queue, campaign, wrapup, contact = await asyncio.gather(
            api.user(facts.user_id) if facts.user_id else _none(),
            api.queue(facts.queue_id) if facts.queue_id else _none(),
            api.campaign(facts.campaign_id) if facts.campaign_id else _none(),
            self._wrapup_name(facts.wrapup_code, warnings),
            self._contact(facts),
        )
        raw_direction = facts.direction or str(event.get("direction") or "")
        direction = call_direction(raw_direction, facts.campaign_id)
        ani, prospect = party_numbers(
            direction,
            facts.ani or str(event.get("ani") or ""),
            facts.dnis or str(event.get("dnis") or ""),
            str((campaign or {}).get("callerAddress") or ""),
        )
        for kind, wanted, found in (
            ("user", facts.user_id, user),
            ("queue", facts.queue_id, queue),
            ("campaign", facts.campaign_id, campaign),
        ):
            if wanted and found is None:
                warnings.append(f"{kind} {wanted} not found in Genesys")
        fields: dict[str, object] = {
            "dial_id": facts.conversation_id,
            "campaign_id": facts.campaign_id,
            "campaign_name": (campaign or {}).get("name", ""),
            "agent_name": (user or {}).get("name") or facts.agent_name,
            "ani": ani,
            "prospect_phone": prospect,
            "disposition_name": choose_disposition(
                wrapup, facts.dialer_disposition, self.options.dispositions
            ),
            "datetime": facts.start or event.get("eventTime") or "",
            "call_direction": direction,
            "skill_name": (queue or {}).get("name", ""),
        }
        fields.update(self._contact_fields(facts.contact_list_id, contact))
        return MappingResult(fields, warnings=warnings)

    async def _wrapup_name(self, code: str, warnings: list[str]) -> str:
        if not code or is_system_code(code):
            return code
        found = await self.api.wrapup_code(code)
        if found is None or not found.get("name"):
            warnings.append(f"wrap-up code {code} not found; sent as its id")
            return code
        return str(found["name"])

    def _columns(self, contact_list_id: str) -> dict[str, str]:
        o = self.options
        return o.contact_list_columns.get(contact_list_id) or o.contact_columns

    async def _contact(self, facts: CallFacts) -> dict[str, Any] | None:
        list_id, contact_id = facts.contact_list_id, facts.contact_id
        if not (list_id and contact_id and self._columns(list_id)):
            return None
        return await self.api.contact(list_id, contact_id)

    def _contact_fields(self, list_id: str, contact: dict[str, Any] | None) -> dict[str, object]:
        if contact is None:
            return {}
        data = contact.get("data")
        if not isinstance(data, dict):
            data = {}
        out: dict[str, object] = {
            name: data.get(column, "") for name, column in self._columns(list_id).items()
        }
        if not out.get("sys_created_date_original") and contact.get("dateCreated"):
            out["sys_created_date_original"] = contact["dateCreated"]
        return out

    async def aclose(self) -> None:
        await self.api.aclose()


async def _none() -> None:
    return None
