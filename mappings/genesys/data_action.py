"""Genesys Cloud through a Web Services Data Action: flat JSON in, a dial out, no API calls.

A Process Automation trigger starts an Architect workflow, which calls a Data Action that
POSTs the flat JSON of the recommended request template (docs/vendors/genesys.md): values
are already names, empty values are ``""``. A template written with Velocity's formal
notation renders an unset input as its own text (``$esc.jsonString(${input.campaignId})``):
such a value is empty for every rule here (so it cannot make a call Outbound or swap its
numbers), and the relay reports it under the Dials field it was read for. The same rules as
the EventBridge path apply (direction, which number is whose, disposition). Triggers can fire
more than once for one conversation: the ``conversationId`` is the dial_id, so a repeat is
answered 200 duplicate.

Keys (rename any of them with ``options.keys: {ourKey: theirKey}``):

====================  =====================================================================
conversationId        required; the dial_id (a UUID, like every Genesys id)
conversationStart     ISO 8601 (``Z`` or an offset) or epoch milliseconds
direction             ``inbound`` / ``outbound`` (Genesys' originatingDirection)
ani, dnis             the customer session's numbers, any format (``tel:+1…`` too)
callerAddress         the campaign's caller ID, used when ``ani`` is empty on outbound calls
campaignId            campaignName
agentName             queueName (skill_name)
wrapupCode            the wrap-up code's *name* (or an ``ININ-*`` system code)
dispositionName       the dialer's result (``noanswer``, ``busy``, ``machine``…)
zip, leadSource       contact list columns, as the admin maps them
leadCreated           the contact's creation date
attempts              dial attempts
====================  =====================================================================
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings.genesys.ids import check_id
from mappings.genesys.rules import call_direction, choose_disposition, party_numbers
from relay.sdk import (
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    Problem,
    first_set,
    is_placeholder,
)

__all__ = ["KEYS", "GenesysDataActionMapping"]

KEYS: tuple[str, ...] = (
    "conversationId",
    "conversationStart",
    "direction",
    "ani",
    "dnis",
    "callerAddress",
    "campaignId",
    "campaignName",
    "agentName",
    "queueName",
    "wrapupCode",
    "dispositionName",
    "zip",
    "leadSource",
    "leadCreated",
    "attempts",
)


class DataActionOptions(BaseModel):
    """The ``options`` of a ``mapping: genesys-data-action`` source."""

    model_config = ConfigDict(extra="forbid")

    keys: dict[str, str] = Field(default_factory=dict)
    dispositions: dict[str, str] = Field(default_factory=dict)

    @field_validator("keys")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(KEYS))
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)} (known: {', '.join(KEYS)})")
        return value


class GenesysDataActionMapping:
    """``mapping: genesys-data-action``: the recommended Data Action body, mapped as is."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = DataActionOptions.model_validate(options or {})

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data
        if not isinstance(data, dict):
            raise MappingError([Problem("body", "expected the Data Action's JSON object")])

        def get(key: str) -> str:
            value = data.get(self.options.keys.get(key, key))
            return "" if value is None else str(value).strip()

        def real(key: str) -> str:
            text = get(key)
            return "" if is_placeholder(text) else text

        conversation_id = real("conversationId")
        name = self.options.keys.get("conversationId", "conversationId")
        if not conversation_id:
            raise MappingError([Problem(name, "required, but missing or empty")])
        check_id(conversation_id, name)
        direction = call_direction(real("direction"), real("campaignId"))
        ani, prospect = party_numbers(direction, real("ani"), real("dnis"), real("callerAddress"))
        # A number or result left unrendered stays in its field (when nothing real took its
        # place), so the relay reports it: which of the sender's inputs was unset.
        sent_ani, sent_prospect = party_numbers(
            direction, get("ani"), get("dnis"), get("callerAddress")
        )
        disposition = choose_disposition(
            real("wrapupCode"), real("dispositionName"), self.options.dispositions
        )
        fields: dict[str, object] = {
            "dial_id": conversation_id,
            "campaign_id": get("campaignId"),
            "campaign_name": get("campaignName"),
            "agent_name": get("agentName"),
            "ani": first_set(ani, sent_ani),
            "prospect_phone": first_set(prospect, sent_prospect),
            "disposition_name": first_set(disposition, get("wrapupCode"), get("dispositionName")),
            "datetime": get("conversationStart"),
            "call_direction": first_set(direction, get("direction")),
            "skill_name": get("queueName"),
            "zip": get("zip"),
            "lead_source": get("leadSource"),
            "sys_created_date_original": get("leadCreated"),
            "total_dial_attempts": get("attempts"),
        }
        return MappingResult(fields)
