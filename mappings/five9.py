"""Five9 Web Connector mapping (trigger ``OnCallDispositioned``).

Five9 calls the connector URL with the parameters the admin configured: GET sends them in the
query string, POST as a URL-encoded form (some may still be in the URL; the relay merges both,
the body winning). JSON bodies are accepted too, for customers who front Five9 with their own
tooling. Parameter names are the admin's choice, so they are matched case-insensitively and can
be renamed per source::

    options:
      names: {created: lead_created, lead_source: list_name}

The default names, and the Five9 variable each should carry (docs/vendors/five9.md):

==================  =========================  ==============================
parameter           Five9 variable             Dials field
==================  =========================  ==============================
call_id             @Call.call_id@             dial_id
ani                 @Call.ANI@                 ani (outbound) / prospect_phone (inbound)
dnis                @Call.DNIS@                prospect_phone (outbound) / ani (inbound)
number              @Call.number@              prospect_phone when dnis/ani is empty
campaign_id         @Call.campaign_id@         campaign_id
campaign_name       @Call.campaign_name@       campaign_name
agent_name          @Agent.full_name@          agent_name
disposition_name    @Call.disposition_name@    disposition_name
type_name           @Call.type_name@           call_direction
skill_name          @Call.skill_name@          skill_name
start_timestamp     @Call.start_timestamp@     datetime (17 digits, source time zone)
end_timestamp       @Call.end_timestamp@       datetime when start_timestamp is empty
zip                 @Contact.zip@              zip
created             @Contact.<CreatedDateTime field>@         sys_created_date_original
attempts            @Contact.<AttemptsForLastCampaign field>@ total_dial_attempts
lead_source         @Contact.<lead source field>@             lead_source
==================  =========================  ==============================

A variable Five9 could not fill arrives literally (``@Contact.lead_source@``): it counts as
empty (a fallback such as ``number`` is used instead), and the relay reports it under the Dials
field it was read for. Other parameters (worksheet answers, constants) are ignored. ``ani`` is
always the business's number: on inbound calls Five9's ANI is the caller, so ANI and DNIS swap.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.sdk import (
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    Problem,
    first_set,
    is_placeholder,
    normalize_direction,
)

__all__ = ["DEFAULT_NAMES", "Five9Mapping", "Five9Options"]

#: The parameters this mapping reads, by their default names.
DEFAULT_NAMES: tuple[str, ...] = (
    "call_id",
    "ani",
    "dnis",
    "number",
    "campaign_id",
    "campaign_name",
    "agent_name",
    "disposition_name",
    "type_name",
    "skill_name",
    "start_timestamp",
    "end_timestamp",
    "zip",
    "created",
    "attempts",
    "lead_source",
)


class Five9Options(BaseModel):
    """A Five9 source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: Default parameter name → the name this connector sends instead.
    names: dict[str, str] = Field(default_factory=dict)

    @field_validator("names")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_NAMES))
        if unknown:
            raise ValueError(
                f"unknown parameter {', '.join(unknown)}; renameable: {', '.join(DEFAULT_NAMES)}"
            )
        empty = sorted(k for k, v in value.items() if not v.strip())
        if empty:
            raise ValueError(f"empty name for {', '.join(empty)}")
        return value


class _Params:
    """The request's parameters by case-folded name, as sent (placeholders included: the
    relay empties and reports those under the Dials field they land in)."""

    def __init__(self, data: dict[str, Any], names: dict[str, str]) -> None:
        self._values: dict[str, str] = {}
        for key, value in data.items():
            if value is None or isinstance(value, dict | list):
                continue
            self._values[str(key).strip().casefold()] = str(value)
        self._names = names

    def get(self, param: str) -> str:
        return self._values.get(self._names[param].casefold(), "").strip()

    def real(self, param: str) -> str:
        """The parameter's value, or ``""`` when it is empty or a placeholder."""
        text = self.get(param)
        return "" if is_placeholder(text) else text


class Five9Mapping:
    """Maps a Five9 Web Connector request onto Dials fields."""

    #: Five9 reports a transferred call once per agent who dispositions it (same call_id):
    #: hold each dial this long for the later legs (docs/vendors/five9.md says why 900 s).
    #: A source's ``coalesce_seconds`` overrides it (0 turns it off).
    coalesce_seconds = 900.0

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = Five9Options.model_validate(options or {})
        self.names = {name: self.options.names.get(name, name) for name in DEFAULT_NAMES}

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        if not isinstance(request.data, dict):
            raise MappingError(
                [Problem("body", "expected Web Connector parameters (query, form or JSON object)")]
            )
        p = _Params(request.data, self.names)
        ani, dnis, number = p.get("ani"), p.get("dnis"), p.get("number")
        type_name = p.real("type_name")
        warnings: list[str] = []
        if type_name and normalize_direction(type_name, context.directions) == "Inbound":
            business, customer = dnis, first_set(ani, number)
        else:
            business, customer = ani, first_set(dnis, number)
        if not type_name:
            warnings.append(
                f"{self.names['type_name']} is empty: direction unknown, "
                "read as an outbound call (ani = Call.ANI)"
            )
        if not p.real("call_id"):
            warnings.append(
                f"{self.names['call_id']} is empty: the dial_id is derived from the payload, "
                "so only identical retries are recognised as duplicates"
            )
        fields: dict[str, object] = {
            "dial_id": p.get("call_id"),
            "ani": business,
            "prospect_phone": customer,
            "datetime": first_set(p.get("start_timestamp"), p.get("end_timestamp")),
            "disposition_name": p.get("disposition_name"),
            "call_direction": p.get("type_name"),
            "campaign_id": p.get("campaign_id"),
            "campaign_name": p.get("campaign_name"),
            "agent_name": p.get("agent_name"),
            "skill_name": p.get("skill_name"),
            "zip": p.get("zip"),
            "sys_created_date_original": p.get("created"),
            "total_dial_attempts": p.get("attempts"),
            "lead_source": p.get("lead_source"),
        }
        return MappingResult(fields=fields, warnings=warnings)
