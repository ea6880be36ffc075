"""A dial's history as both backends store it: a few bytes per event, appended.

One record per stored dial (``DialHistory``): what it is (source, dial_id, queue id, time
received, the last four digits of the prospect's number) and its timeline, one event a line,
each a compact JSON array (``["a",1800000000.123,2,503,"Service Unavailable",0.042]``), appended
in the same transaction (SQLite) or script (Redis) as the queue operation it records. The
payload is not copied while the dial is in the queue (its queue row holds it); it joins the
record when the dial leaves (delivered), or is read from the dead-letter store while there.

Events are built here (the backends append the text) and read back by ``decode``.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from relay.queue.models import Attempt, DialEvent, NewDial

__all__ = [
    "ANSWER_MAX",
    "TRIM_BATCH",
    "acked",
    "coalesced",
    "dead_lettered",
    "decode",
    "phone_last4",
    "purged",
    "received",
    "replayed",
    "resolved",
    "retried",
    "state_of",
]

ANSWER_MAX = 160  # characters of an answer (or error) kept per attempt
TRIM_BATCH = 2000  # history records a backend drops per trim call at most

_KINDS = {
    "r": "received",
    "c": "coalesced",
    "v": "resolved",
    "a": "attempt",
    "w": "waiting",
    "d": "delivered",
    "x": "dead_lettered",
    "p": "replayed",
    "u": "purged",
}
_PHONE_AT = b'"prospect_phone":"'
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)


def _t(at: float) -> float:
    return round(at, 3)


def _line(*fields: Any) -> str:
    return orjson.dumps(fields).decode() + "\n"


def received(dial: NewDial) -> str:
    """``dial`` stored: its lane (0 live, 1 backfill) and kind (``dial`` or a mapping job).

    orjson writes the time (an f-string's ``repr`` of the float costs more: ~0.3 µs a
    webhook)."""
    return _line("r", _t(dial.received_at), int(dial.lane), dial.kind)


def coalesced(at: float) -> str:
    """A later leg of the call merged into the held dial."""
    return _line("c", _t(at))


def resolved(at: float) -> str:
    """The mapping job became the dial to send."""
    return _line("v", _t(at))


def _attempt(attempt: Attempt | None) -> str:
    if attempt is None:
        return ""
    seconds = None if attempt.seconds is None else round(attempt.seconds, 3)
    answer = attempt.answer[:ANSWER_MAX]
    return _line("a", _t(attempt.at), attempt.number, attempt.status, answer, seconds)


def acked(attempt: Attempt | None, now: float) -> str:
    """Delivered (after ``attempt``, when there was a POST: none in dry-run)."""
    return _attempt(attempt) + _line("d", _t(now))


def retried(attempt: Attempt | None, due_at: float, error: str, now: float) -> str:
    """Due again at ``due_at``: after ``attempt``, or (no POST made) because of ``error``."""
    reason = "" if attempt is not None else error[:ANSWER_MAX]
    return _attempt(attempt) + _line("w", _t(now), _t(due_at), reason)


def dead_lettered(attempt: Attempt | None, reason: str, status: int | None, now: float) -> str:
    """Moved to the dead-letter store (after ``attempt``, when a POST decided it)."""
    return _attempt(attempt) + _line("x", _t(now), reason, status)


def replayed(now: float) -> str:
    """Back in the queue from the dead-letter store."""
    return _line("p", _t(now))


def purged(now: float) -> str:
    """Deleted from the dead-letter store for good."""
    return _line("u", _t(now))


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _event(fields: list[Any]) -> DialEvent | None:
    if not fields or not isinstance(fields[0], str) or len(fields) < 2:
        return None
    code, at, rest = fields[0], _num(fields[1]) or 0.0, [*fields[2:], None, None, None, None]
    kind = _KINDS.get(code, code)
    if code == "r":
        return DialEvent(kind, at, lane=_int(rest[0]), reason=_str(rest[1]))
    if code == "a":
        return DialEvent(
            kind, at, attempt=_int(rest[0]), status=_int(rest[1]), answer=_str(rest[2]),
            seconds=_num(rest[3]),
        )  # fmt: skip
    if code == "w":
        return DialEvent(kind, at, due_at=_num(rest[0]), reason=_str(rest[1]))
    if code == "x":
        return DialEvent(kind, at, reason=_str(rest[0]), status=_int(rest[1]))
    return DialEvent(kind, at)


def decode(events: str | bytes) -> tuple[DialEvent, ...]:
    """The timeline stored as ``events``; a line that cannot be read is left out."""
    out = []
    # "\n" only: splitlines() would also split inside an answer holding U+0085 or U+2028
    lines = events.split(b"\n") if isinstance(events, bytes) else events.split("\n")
    for line in lines:
        if not line:
            continue
        try:
            fields = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        event = _event(fields) if isinstance(fields, list) else None
        if event is not None:
            out.append(event)
    return tuple(out)


def state_of(events: tuple[DialEvent, ...], dead_id: str | None) -> tuple[str, float | None]:
    """Where the dial is now, from its timeline: (state, when it was settled or None)."""
    if dead_id:
        return "dead", None
    last = events[-1] if events else None
    if last is not None and last.kind in ("delivered", "purged"):
        return last.kind, last.at
    return "queued", None


def phone_last4(payload: bytes, kind: str = "dial") -> str:
    """The last four digits of a dial's ``prospect_phone`` (the wire JSON as the relay writes
    it), or ``""``; a mapping job's payload is the vendor's, not a dial: ``""``."""
    if kind != "dial":
        return ""
    start = payload.find(_PHONE_AT)
    if start < 0:
        return ""
    start += len(_PHONE_AT)
    end = payload.find(b'"', start)
    value = payload[start : end if end >= 0 else start]
    if value.isdigit():  # a Dial's number is digits already: no translate table to build
        return value[-4:].decode()
    return value.translate(None, _NOT_DIGITS)[-4:].decode()
