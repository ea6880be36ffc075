"""Dialpad call event subscriptions (a webhook with a secret: the body is an HS256 JWT).

The source's ``auth: {type: jwt}`` verifies the token and hands its claims, Dialpad's call
event (``CallProto``), to this mapping. Dialpad sends an event at every state transition of
every call leg; only ``hangup`` (the leg ended) makes a dial, every other state is answered
``200 ignored`` and stored nowhere (docs/vendors/dialpad.md).

==========================  =============================================================
Dials field                 from the call event
==========================  =============================================================
dial_id                     ``call_id`` (a JSON number in webhooks; as a string)
datetime                    ``date_started`` (ms since the epoch, UTC), else ``date_ended``
call_direction              ``direction`` (``inbound`` / ``outbound``)
ani                         ``proxy_target.phone`` (the caller ID shown) when present, else
                            ``internal_number`` (empty when it is the word ``blocked``)
prospect_phone              ``external_number`` (never the contact's phone)
agent_name                  ``target.name`` when ``target.type`` is ``user``
skill_name                  the name of ``entry_point_target`` (else ``target``) when its
                            type is a call center or a department (``skill_types``)
disposition_name            ``Answered`` (``date_connected`` set), ``Voicemail`` (a voicemail
                            was left), else ``Missed`` (inbound) / ``No Answer`` (outbound);
                            the words are ``options.outcomes``, the source's
                            ``dispositions`` table can rename them too
==========================  =============================================================

Options::

    options:
      states: [hangup]                  # the states that make a dial
      skill_types: [callcenter, department, call_center]
      outcomes: {answered: Answered, voicemail: Voicemail, missed: Missed,
                 no_answer: No Answer}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.sdk import InboundRequest, MappingContext, MappingError, MappingResult, Problem

__all__ = ["DialpadMapping", "DialpadOptions", "epoch_ms"]

_OUTCOMES = {
    "answered": "Answered",
    "voicemail": "Voicemail",
    "missed": "Missed",
    "no_answer": "No Answer",
}


class DialpadOptions(BaseModel):
    """A Dialpad source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: The call states that make a dial (Dialpad's ``hangup``: the call leg ended).
    states: list[str] = Field(default=["hangup"], min_length=1)
    #: ``target.type`` / ``entry_point_target.type`` values that name a queue (skill_name).
    skill_types: list[str] = Field(default=["callcenter", "call_center", "department"])
    #: The disposition written for each outcome (answered, voicemail, missed, no_answer).
    outcomes: dict[str, str] = Field(default_factory=dict)

    @field_validator("outcomes")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(_OUTCOMES))
        if unknown:
            raise ValueError(f"unknown outcome {', '.join(unknown)}; known: {', '.join(_OUTCOMES)}")
        return value


def epoch_ms(value: object) -> datetime | None:
    """Dialpad's int64 milliseconds since the epoch (a number, or a numeric string as the API
    sends), as an aware UTC datetime; None when empty or not such a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            return None
        value = int(text)
    if not isinstance(value, int | float) or value != value or value < 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: object) -> str:
    """A scalar claim as text (ids are int64 numbers in webhooks, strings in the API)."""
    if value is None or isinstance(value, bool | dict | list):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _party(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A ``CallContactProto`` claim (``{}`` when absent or not an object)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


class DialpadMapping:
    """Maps a Dialpad call event (the JWT's claims) onto Dials fields."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = DialpadOptions.model_validate(options or {})
        self.outcomes = {**_OUTCOMES, **self.options.outcomes}
        self._skill_types = {t.casefold() for t in self.options.skill_types}

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data
        if not isinstance(data, dict):
            raise MappingError([Problem("body", "expected a Dialpad call event (a JSON object)")])
        state = _text(data.get("state"))
        if state not in self.options.states:
            why = f"call state {state!r} does not end a call" if state else "no call state"
            return MappingResult(fields={}, ignored=why)
        warnings: list[str] = []
        started = epoch_ms(data.get("date_started")) or epoch_ms(data.get("date_ended"))
        moment: object = started.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00") if started else ""
        if started is None and _text(data.get("date_started")):
            moment = _text(data.get("date_started"))  # not ms: the relay names the problem
        internal = _text(data.get("internal_number"))
        if internal.casefold() == "blocked":
            internal = ""
            warnings.append("internal_number is 'blocked' (caller ID withheld): ani left empty")
        target = _party(data, "target")
        fields: dict[str, object] = {
            "dial_id": _text(data.get("call_id")),
            "datetime": moment,
            "call_direction": _text(data.get("direction")),
            "ani": _text(_party(data, "proxy_target").get("phone")) or internal,
            "prospect_phone": _text(data.get("external_number")),
            "agent_name": _text(target.get("name")) if self._is_type(target, {"user"}) else "",
            "skill_name": self._skill(data, target),
            "disposition_name": self.outcomes[self._outcome(data)],
        }
        return MappingResult(fields=fields, warnings=warnings)

    def _is_type(self, party: dict[str, Any], types: set[str]) -> bool:
        return _text(party.get("type")).casefold() in types

    def _skill(self, data: dict[str, Any], target: dict[str, Any]) -> str:
        for party in (_party(data, "entry_point_target"), target):
            if self._is_type(party, self._skill_types):
                return _text(party.get("name"))
        return ""

    @staticmethod
    def _outcome(data: dict[str, Any]) -> str:
        if epoch_ms(data.get("date_connected")) is not None:
            return "answered"
        if any(
            _text(data.get(k))
            for k in ("voicemail_link", "voicemail_share_link", "voicemail_recording_id")
        ):
            return "voicemail"
        return "missed" if _text(data.get("direction")).casefold() == "inbound" else "no_answer"
