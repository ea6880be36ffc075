"""Reading one conversation's analytics details (``/api/v2/analytics/conversations/{id}/
details``) into the facts a dial needs: ids still to be named, numbers, times, results.

Where things are: participants (``purpose`` customer/external, agent, acd, outbound, ivr…)
have sessions (``ani``, ``dnis``, ``direction``, dialer fields ``outboundCampaignId``,
``outboundContactListId``, ``outboundContactId``, ``dispositionName``) and sessions have
segments (``segmentType``, ``queueId``, ``wrapUpCode``, ``segmentEnd``). The wrap-up code is on
the agent's wrap-up segment; for dialer calls the campaign fields sit on the customer or
outbound (dialer) session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["CallFacts", "read_details"]

_CUSTOMER = ("customer", "external")


@dataclass(frozen=True)
class CallFacts:
    """What one conversation says about the call (ids are not yet names)."""

    conversation_id: str
    start: str
    direction: str  # Genesys' originatingDirection: inbound / outbound
    ani: str
    dnis: str
    campaign_id: str = ""
    contact_list_id: str = ""
    contact_id: str = ""
    user_id: str = ""
    agent_name: str = ""  # the agent participant's participantName (a fallback)
    queue_id: str = ""
    wrapup_code: str = ""
    dialer_disposition: str = ""
    ended: bool = True
    wrapup_pending: bool = False  # an agent handled the call and has not wrapped up yet


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _sessions(participant: dict[str, Any]) -> list[dict[str, Any]]:
    return _list(participant.get("sessions"))


def _segments(participant: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for session in _sessions(participant):
        yield from _list(session.get("segments"))


def _first(sessions: list[dict[str, Any]], key: str) -> str:
    for session in sessions:
        value = _text(session.get(key))
        if value:
            return value
    return ""


def _voice(participant: dict[str, Any]) -> list[dict[str, Any]]:
    sessions = _sessions(participant)
    voice = [s for s in sessions if _text(s.get("mediaType")).lower() in ("voice", "")]
    return voice or sessions


def _wrapup_code(participant: dict[str, Any]) -> str:
    codes = [_text(s.get("wrapUpCode")) for s in _segments(participant)]
    return next((c for c in reversed(codes) if c), "")


def _in_wrapup(participant: dict[str, Any]) -> bool:
    return any(
        _text(s.get("segmentType")).lower() == "wrapup" and not s.get("segmentEnd")
        for s in _segments(participant)
    )


def read_details(details: dict[str, Any]) -> CallFacts:
    """The facts of one conversation; missing parts are empty strings, never errors."""
    participants = _list(details.get("participants"))
    customers = [p for p in participants if _text(p.get("purpose")).lower() in _CUSTOMER]
    agents = [
        p for p in participants if _text(p.get("purpose")).lower() == "agent" and p.get("userId")
    ]
    customer_sessions = [s for p in customers for s in _voice(p)]
    everyone = customer_sessions + [s for p in participants for s in _voice(p)]
    # The agent who wrapped up the call, else the last agent who had it.
    wrapped = [a for a in agents if _wrapup_code(a)]
    agent = wrapped[-1] if wrapped else (agents[-1] if agents else None)
    wrapup = _wrapup_code(agent) if agent else ""
    if not wrapup:  # system codes (ININ-OUTBOUND-*) can sit on dialer participants
        wrapup = next((c for c in (_wrapup_code(p) for p in participants) if c), "")
    queue_sources = ([agent] if agent else []) + [
        p for p in participants if _text(p.get("purpose")).lower() == "acd"
    ]
    queue_id = next(
        (q for p in queue_sources for q in (_text(s.get("queueId")) for s in _segments(p)) if q),
        "",
    )
    ended = bool(_text(details.get("conversationEnd")))
    pending = bool(agents) and not wrapup and (not ended or any(_in_wrapup(a) for a in agents))
    return CallFacts(
        conversation_id=_text(details.get("conversationId")),
        start=_text(details.get("conversationStart")),
        direction=_text(details.get("originatingDirection")) or _first(everyone, "direction"),
        ani=_first(customer_sessions, "ani"),
        dnis=_first(customer_sessions, "dnis"),
        campaign_id=_first(everyone, "outboundCampaignId"),
        contact_list_id=_first(everyone, "outboundContactListId"),
        contact_id=_first(everyone, "outboundContactId"),
        user_id=_text(agent.get("userId")) if agent else "",
        agent_name=_text(agent.get("participantName")) if agent else "",
        queue_id=queue_id,
        wrapup_code=wrapup,
        dialer_disposition=_first(everyone, "dispositionName"),
        ended=ended,
        wrapup_pending=pending,
    )
