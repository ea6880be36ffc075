"""Aircall ``call.ended`` webhooks: one dial per Aircall call.

Aircall POSTs ``{"resource", "event", "timestamp", "token", "data"}`` for every event of the
webhook; ``data`` is the call. Only ``call.ended`` becomes a dial: it fires about 30 s after
hang-up, once the call's data is final. ``call.hungup`` (fired before that), the other call
events (``call.created``, ``call.answered``, ``call.tagged``…) and other resources
(``user.*``, ``contact.*``…) are answered ``200 ignored`` and nothing is stored: every
non-2xx counts towards Aircall disabling the webhook. The ``token`` is checked and removed by
the source's ``auth: {type: body-token}`` before this mapping sees the body.

=============================  ==============================================================
Dials field                    from ``data``
=============================  ==============================================================
dial_id                        ``id``
datetime                       ``started_at`` (Unix seconds, UTC)
call_direction                 ``direction`` (``inbound`` / ``outbound``)
ani                            ``number.digits``: the Aircall line (our number)
prospect_phone                 ``raw_digits``: the other party (``anonymous``: empty)
agent_name                     ``user.name`` (``transferred_to.name`` with
                               ``agent: transferred_to`` when the call was transferred)
skill_name                     ``number.name`` (``skill: teams``: the team names)
disposition_name               the first of ``tags``, else the outcome (``disposition:``)
=============================  ==============================================================

The outcome (``disposition: outcome``, or no tag): ``Answered`` when ``answered_at`` is set;
else ``Voicemail`` when the caller left one; else the ``missed_call_reason``
(``agents_did_not_answer``, ``out_of_opening_hours``…; rename them with the source's
``dispositions``); else ``Missed`` (inbound) or ``No Answer`` (outbound).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from relay.sdk import InboundRequest, MappingContext, MappingError, MappingResult, Problem

__all__ = ["AircallMapping", "AircallOptions", "aircall_number", "outcome"]

TERMINAL_EVENT = "call.ended"


class AircallOptions(BaseModel):
    """An Aircall source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: ``tags``: the call's first tag, the outcome when it has none; ``outcome``: always it.
    disposition: Literal["tags", "outcome"] = "tags"
    #: ``number``: the Aircall line's name; ``teams``: the call's team names (else the line's).
    skill: Literal["number", "teams"] = "number"
    #: ``user``: who took the call; ``transferred_to``: whom it was transferred to, if anyone.
    agent: Literal["user", "transferred_to"] = "user"
    #: The answer to a ``call.ended`` that cannot be mapped (kept for replay either way):
    #: 200 so Aircall does not count it towards disabling the webhook, or 422.
    rejected_status: Literal[200, 422] = 200


def aircall_number(value: object) -> str:
    """An Aircall number as sent (``+33 1 76 36 06 95``), or ``""`` for a withheld one
    (``anonymous``, any case) or none; the relay's phone normaliser reads the rest."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    text = str(value).strip()
    return "" if text.casefold() == "anonymous" else text


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()


def _names(value: object) -> list[str]:
    """The non-empty ``name`` of each object of a list (tags, teams)."""
    items = value if isinstance(value, list) else []
    return [n for n in (_text(i.get("name")) for i in items if isinstance(i, dict)) if n]


def outcome(call: dict[str, Any]) -> str:
    """The call's outcome as a disposition (see the module's documentation)."""
    if call.get("answered_at") not in (None, "", 0):
        return "Answered"
    if call.get("voicemail") or (call.get("direction") == "inbound" and call.get("asset")):
        return "Voicemail"
    reason = _text(call.get("missed_call_reason"))
    if reason:
        return reason
    return "Missed" if call.get("direction") == "inbound" else "No Answer"


class AircallMapping:
    """Maps an Aircall webhook delivery onto Dials fields (``call.ended`` only)."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = AircallOptions.model_validate(options or {})
        #: Read by the hook: a rejected ``call.ended`` is kept and answered with this status.
        self.rejected_status: int = self.options.rejected_status

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        body = request.data
        if not isinstance(body, dict):
            raise MappingError([Problem("body", "expected an Aircall webhook (a JSON object)")])
        event = _text(body.get("event"))
        if event != TERMINAL_EVENT:
            return MappingResult({}, ignored=f"{event or 'unnamed'} events are not call.ended")
        call = body.get("data")
        if not isinstance(call, dict):
            raise MappingError([Problem("body", "call.ended without a `data` call object")])
        options = self.options
        warnings: list[str] = []
        prospect = aircall_number(call.get("raw_digits"))
        if not prospect and _text(call.get("raw_digits")):
            warnings.append("raw_digits is anonymous: the caller withheld the number")
        line = _object(call, "number")
        tags = _names(call.get("tags"))
        if len(tags) > 1 and options.disposition == "tags":
            warnings.append(f"{len(tags)} tags: the disposition is the first ({tags[0]})")
        disposition = tags[0] if tags and options.disposition == "tags" else outcome(call)
        teams = _names(call.get("teams"))
        skill = ", ".join(teams) if teams and options.skill == "teams" else _text(line.get("name"))
        agent = _text(_object(call, "user").get("name"))
        transferee = _text(_object(call, "transferred_to").get("name"))
        if transferee and options.agent == "transferred_to":
            agent = transferee
        fields: dict[str, object] = {
            "dial_id": _text(call.get("id")),
            "ani": aircall_number(line.get("digits")),
            "prospect_phone": prospect,
            "datetime": call.get("started_at") or "",
            "call_direction": _text(call.get("direction")),
            "agent_name": agent,
            "skill_name": skill,
            "disposition_name": disposition,
        }
        return MappingResult(fields=fields, warnings=warnings)
