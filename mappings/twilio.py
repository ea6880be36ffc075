"""Twilio Programmable Voice status callbacks (``StatusCallback``), docs/vendors/twilio.md.

Twilio POSTs a form (or, with ``StatusCallbackMethod=GET``, a query string) for each status a
call goes through. Only a final ``CallStatus`` ends a call: ``completed``, ``busy``,
``no-answer``, ``failed``, ``canceled``; the others (``queued``, ``initiated``, ``ringing``,
``in-progress``) are answered ``200 ignored``. One dial per ``CallSid``.

Twilio knows nothing of campaigns, agents or leads: the dialer application that places the
call puts them in the query string of the callback URL (which Twilio signs with the rest).
The recommended parameter names are the Dials fields themselves; ``options.names`` renames
them::

    options:
      names: {campaign_id: campaign, agent_name: agent}
      disposition: answered_by   # AnsweredBy (machine detection) when Twilio sends one

==========================  ==============================================================
Twilio / callback URL       Dials field
==========================  ==============================================================
CallSid                     dial_id
Direction                   call_direction (outbound-api, outbound-dial → Outbound; inbound)
From / To                   ani (our number) and prospect_phone by direction: outbound
                            ani = From; inbound ani = To
Timestamp - CallDuration    datetime (the call's start; Timestamp is RFC 2822, UTC); no
                            Timestamp: the time the relay received the callback
CallStatus (or AnsweredBy)  disposition_name (the source's ``dispositions`` rename them)
campaign_id, campaign_name, agent_name, skill_name, zip, lead_source,
total_dial_attempts, sys_created_date_original: the callback URL's query parameters
==========================  ==============================================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.sdk import (
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    Problem,
    known_direction,
    parse_timestamp,
)

__all__ = ["FINAL_STATUSES", "QUERY_FIELDS", "TwilioMapping", "TwilioOptions"]

#: The ``CallStatus`` values that end a call.
FINAL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: Dials fields the dialer app puts on the callback URL (by default under these names).
QUERY_FIELDS: tuple[str, ...] = (
    "campaign_id",
    "campaign_name",
    "agent_name",
    "skill_name",
    "zip",
    "lead_source",
    "total_dial_attempts",
    "sys_created_date_original",
)


class TwilioOptions(BaseModel):
    """A Twilio source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: Dials field → the callback URL's query parameter carrying it.
    names: dict[str, str] = Field(default_factory=dict)
    #: ``status``: the disposition is ``CallStatus``; ``answered_by``: ``AnsweredBy``
    #: (answering-machine detection) when the callback carries one, else ``CallStatus``.
    disposition: Literal["status", "answered_by"] = "status"

    @field_validator("names")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(QUERY_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field {', '.join(unknown)}; renameable: {', '.join(QUERY_FIELDS)}"
            )
        if any(not v.strip() for v in value.values()):
            raise ValueError("a parameter name cannot be empty")
        return value


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return "" if value is None or isinstance(value, dict | list) else str(value).strip()


def call_start(timestamp: str, duration: str) -> datetime:
    """The call's start: Twilio's ``Timestamp`` (RFC 2822, the final event) less its
    ``CallDuration`` seconds (empty or not a number: 0). ``ValueError`` for a bad timestamp."""
    moment = parse_timestamp(timestamp, UTC)
    seconds = int(duration) if duration.isdigit() else 0
    return moment - timedelta(seconds=seconds)


class TwilioMapping:
    """Maps a Twilio voice status callback onto Dials fields."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = TwilioOptions.model_validate(options or {})
        self.names = {f: self.options.names.get(f, f) for f in QUERY_FIELDS}

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data
        if not isinstance(data, dict):
            raise MappingError([Problem("body", "expected Twilio's status callback parameters")])
        status = _text(data, "CallStatus").lower()
        if not status:
            raise MappingError([Problem("CallStatus", "missing: not a Twilio status callback")])
        if status not in FINAL_STATUSES:
            return MappingResult({}, ignored=f"CallStatus {status} does not end a call")
        warnings: list[str] = []
        direction = _text(data, "Direction")
        ours, theirs = _text(data, "From"), _text(data, "To")
        if known_direction(direction, context.directions) == "Inbound":
            ours, theirs = theirs, ours
        elif not direction:
            warnings.append("Direction is missing: read as an outbound call (ani = From)")
        fields: dict[str, object] = {
            "dial_id": _text(data, "CallSid"),
            "ani": ours,
            "prospect_phone": theirs,
            "datetime": self._when(data, warnings),
            "disposition_name": self._disposition(data, status),
            "call_direction": direction,
        }
        for field, param in self.names.items():
            fields[field] = _text(data, param)
        return MappingResult(fields=fields, warnings=warnings)

    def _disposition(self, data: dict[str, Any], status: str) -> str:
        answered_by = _text(data, "AnsweredBy")
        if self.options.disposition == "answered_by" and answered_by:
            return answered_by
        return status

    @staticmethod
    def _when(data: dict[str, Any], warnings: list[str]) -> object:
        timestamp = _text(data, "Timestamp")
        if not timestamp:
            warnings.append("Timestamp is missing: datetime is when the relay received it")
            return datetime.now(UTC)
        try:
            return call_start(timestamp, _text(data, "CallDuration"))
        except ValueError:
            return timestamp  # the relay reports it under datetime
