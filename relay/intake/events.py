"""The live feed's intake events: one ``RelayEvent`` per webhook answer (``relay.obs.feed``).

Built only while someone follows the feed (the hook checks ``EventFeed.active`` first), so
this may parse the answer it describes: the event's ``reason`` is what the answer told the
dialer (an error, why it was ignored, a rejection's problems), its ``payload`` the Dial the
webhook was mapped to (masked when rendered).
"""

from __future__ import annotations

from typing import Any

import orjson

from relay.core.pipeline import Mapped
from relay.intake.answers import Answer
from relay.obs.events import RelayEvent

__all__ = ["NO_SOURCE", "webhook_event"]

#: The source of an event for a name that is no source (as ``relay_webhooks_total`` has it).
NO_SOURCE = "_unknown"


def _reason(body: dict[str, Any]) -> str | None:
    """What an answer's body says about it: an error, why ignored, the problems."""
    if "error" in body:
        return str(body["error"])
    if "reason" in body:
        return str(body["reason"])
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(f"{e.get('field')}: {e.get('problem')}" for e in errors)
    return None


def webhook_event(
    source: str, answer: Answer, dial_id: str | None, mapped: Mapped | None
) -> RelayEvent:
    """The event of ``answer`` to a webhook for ``source`` (``NO_SOURCE`` when the name
    is none), stored as ``dial_id``, mapped to ``mapped`` (None: not mapped)."""
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:  # every answer is JSON; this is only a guard
        body = {}
    if not isinstance(body, dict):
        body = {}
    payload = None
    detail = None
    if mapped is not None and mapped.dial is not None:
        payload = mapped.dial.to_wire()
    elif mapped is not None and mapped.job is not None:
        detail = f"a {mapped.job.kind} job, resolved in the forwarder"
    rejected = body.get("rejected_id")
    return RelayEvent(
        answer.outcome or "error",
        source,
        dial_id=dial_id,
        queue_id=str(rejected) if rejected else None,
        status=answer.status,
        reason=_reason(body),
        detail=detail,
        payload=payload,
    )
