"""The Genesys mapping rules both delivery paths share (pure functions, no I/O).

* Direction: a call with an outbound campaign is ``Outbound``; an outbound call without one is
  ``Manual`` (an agent dialled it); an inbound call is ``Inbound``.
* Numbers: on an outbound call ``ani`` is our caller ID (the session's ani, else the
  campaign's ``callerAddress``) and the prospect is the dnis; on an inbound call the
  prospect is the caller (ani) and ``ani`` is the business's number that was called (dnis).
* Disposition: the wrap-up code's name (``ININ-*`` system codes as they are), else the
  dialer's result on the session (``dispositionName``, e.g. ``noanswer``), optionally renamed
  by the source's ``dispositions`` option.
"""

from __future__ import annotations

from collections.abc import Mapping

from relay.sdk import rename

__all__ = [
    "TERMINAL_EVENTS",
    "call_direction",
    "choose_disposition",
    "dialer_result",
    "is_system_code",
    "parse_topic",
    "party_numbers",
]

TOPIC_PREFIX = "v2.detail.events.conversation."
#: Detail events after which a conversation can be resolved (the call is over).
TERMINAL_EVENTS: tuple[str, ...] = ("customer.end", "acw", "wrapup")


def parse_topic(topic: str) -> tuple[str, str]:
    """``v2.detail.events.conversation.<id>.customer.end`` → ``(<id>, "customer.end")``.

    The id is ``""`` for the ``{id}`` template (EventBridge's ``detail-type``). Raises
    ``ValueError`` for anything that is not a conversation detail-event topic.
    """
    text = topic.strip()
    if not text.startswith(TOPIC_PREFIX):
        raise ValueError("not a v2.detail.events.conversation topic")
    conversation_id, _, event = text[len(TOPIC_PREFIX) :].partition(".")
    if not conversation_id or not event:
        raise ValueError("topic names no conversation and event")
    return ("" if conversation_id == "{id}" else conversation_id), event


def is_system_code(code: str) -> bool:
    """``ININ-WRAP-UP-TIMEOUT`` and friends: Genesys' own wrap-up codes, not ids."""
    return code.strip().upper().startswith("ININ-")


def dialer_result(disposition_name: str) -> str:
    """The dialer's call-analysis result: ``disposition.classification.callable.noanswer`` →
    ``noanswer``; a short value (``busy``) stays as it is."""
    text = disposition_name.strip()
    return text.rsplit(".", 1)[-1] if text else ""


def call_direction(direction: str, campaign_id: str) -> str:
    """``Outbound`` (campaign), ``Manual`` (outbound, no campaign), ``Inbound``; else as is."""
    if campaign_id.strip():
        return "Outbound"
    lowered = direction.strip().lower()
    if lowered == "outbound":
        return "Manual"
    if lowered == "inbound":
        return "Inbound"
    return direction.strip()


def party_numbers(direction: str, ani: str, dnis: str, caller_address: str = "") -> tuple[str, str]:
    """``(ani, prospect_phone)`` for a call of ``direction`` (an outboundIQ direction)."""
    if direction == "Inbound":
        return dnis, ani
    return ani or caller_address, dnis


def choose_disposition(
    wrapup_name: str, dialer_disposition: str, renames: Mapping[str, str] | None = None
) -> str:
    """The wrap-up's name if any, else the dialer's result; then the source's renames."""
    return rename(wrapup_name.strip() or dialer_result(dialer_disposition), renames)
