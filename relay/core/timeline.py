"""A dial's history as an operator sees it (``relay dial show/list``, the console's Dials page).

``shown(record, secrets, at=...)`` turns a ``DialRecord`` (``relay.queue``'s ``DialHistory``)
into a plain document: its identity, the prospect's number masked (only its last four digits
are kept outside the payload anyway), its timeline (outboundIQ's answers with every configured
secret hidden and phone numbers masked) and its payload (phone numbers masked at any depth).
``detail(event)`` is one timeline event in a few words. Times are UTC, written by a ``Clock``:
``text_time`` (for people) or ``json_time`` (ISO 8601, for ``--json``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from relay.obs.logs import mask_document, redact_answer
from relay.queue.models import DialEvent, DialRecord

__all__ = [
    "Clock",
    "age_seconds",
    "attempts_of",
    "detail",
    "json_time",
    "masked_payload",
    "moment",
    "shown",
    "shown_payload",
    "text_time",
]

LANES = {0: "live", 1: "backfill"}
#: How a document shows a time: ``text_time`` or ``json_time``.
Clock = Callable[[float | None], str | None]


def text_time(ts: float | None) -> str | None:
    """UTC, to the millisecond (attempts a fraction of a second apart stay apart)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def json_time(ts: float | None) -> str | None:
    """ISO 8601 like every ``--json`` document, with milliseconds: ``...T16:00:06.042Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def age_seconds(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``3d`` (or a plain number of seconds) → seconds;
    ``ValueError`` for anything else."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:], 0)
    seconds = float(text[:-1] if unit else text) * (unit or 1)
    if not math.isfinite(seconds):
        raise ValueError(f"{text[:40]!r}: not a length of time")
    return seconds


def moment(text: str, *, now: float | None = None) -> float:
    """A point in time from an age (``90s``, ``15m``, ``2h``, ``3d``: that long before
    ``now``) or a date-time (ISO 8601; UTC unless it names its offset); ``ValueError`` naming
    what is expected otherwise."""
    try:
        return (time.time() if now is None else now) - age_seconds(text)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text[:40]!r}: an age (90s, 15m, 2h, 3d) or a date-time (2026-12-01T08:00)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def masked_payload(payload: bytes) -> dict[str, Any]:
    """A stored payload as shown: phone numbers masked at any depth (a mapping job's payload
    nests the vendor's event); ``orjson.JSONDecodeError`` when it is not JSON."""
    data: dict[str, Any] = mask_document(orjson.loads(payload))
    return data


def shown_payload(raw: bytes | None) -> Any:
    """``masked_payload``, None for no payload, a note for one that is not JSON."""
    if raw is None:
        return None
    try:
        return masked_payload(raw)
    except orjson.JSONDecodeError:
        return "(not JSON: not shown)"


def _event(e: DialEvent, secrets: list[str], at: Clock) -> dict[str, Any]:
    out: dict[str, Any] = {"event": e.kind, "at": at(e.at)}
    if e.kind == "received":
        out.update(lane=LANES.get(e.lane or 0, str(e.lane)), kind=e.reason or "dial")
    elif e.kind == "attempt":
        answer = redact_answer(e.answer, secrets) if e.answer else ""
        out.update(attempt=e.attempt, status=e.status, answer=answer, seconds=e.seconds)
    elif e.kind == "waiting":
        out.update(until=at(e.due_at), reason=redact_answer(e.reason, secrets))
    elif e.kind == "dead_lettered":
        out.update(reason=redact_answer(e.reason, secrets), status=e.status)
    return out


def shown(r: DialRecord, secrets: list[str], *, at: Clock, payload: bool = True) -> dict[str, Any]:
    """``r`` as shown: the ``--json`` document (docs/operations.md), times by ``at``."""
    out: dict[str, Any] = {
        "id": r.id,
        "source": r.source,
        "dial_id": r.dial_id,
        "state": r.state,
        "number": f"******{r.phone_last4}" if r.phone_last4 else None,
        "received_at": at(r.received_at),
        "settled_at": at(r.settled_at),
        "dead_letter_id": r.dead_id,
        "events": [_event(e, secrets, at) for e in r.events],
    }
    if payload:
        out["payload"] = shown_payload(r.payload)
    return out


def detail(e: dict[str, Any]) -> str:
    """One event of ``shown``'s timeline in a few words."""
    kind = e["event"]
    if kind == "received":
        return f"{e['lane']} lane" + ("" if e["kind"] == "dial" else f", {e['kind']} job")
    if kind == "attempt":
        status = "no answer" if e["status"] is None else f"HTTP {e['status']}"
        took = "" if e["seconds"] is None else f" in {e['seconds']:.3f} s"
        answer = f": {e['answer']}" if e["answer"] else ""
        return f"#{e['attempt']} {status}{took}{answer}"
    if kind == "waiting":
        return f"until {e['until']}" + (f": {e['reason']}" if e["reason"] else "")
    if kind == "dead_lettered":
        return str(e["reason"]) + ("" if e["status"] is None else f" (HTTP {e['status']})")
    return ""


def attempts_of(d: dict[str, Any]) -> tuple[int, str]:
    """How many POSTs ``shown``'s document made, and the last one's status (``-``: none)."""
    tries = [e for e in d["events"] if e["event"] == "attempt"]
    if not tries:
        return 0, "-"
    return len(tries), str(tries[-1]["status"] or "no answer")
