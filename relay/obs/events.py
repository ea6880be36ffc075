"""What the relay's live feed carries: one ``RelayEvent`` per webhook answer and per delivery
outcome.

An event's ``kind`` is what happened. At intake (``stage`` ``intake``) it is the answer's
outcome, the label ``relay_webhooks_total`` counts it under (``queued``, ``duplicate``,
``coalesced``, ``ignored``, ``rejected``, ``unauthorized``...); in the forwarder (``stage``
``delivery``) it is ``delivered``, ``retried`` or ``dead_lettered``. ``received`` is not a kind
but a filter: every intake event, whatever its answer.

An event holds the dial's payload as stored (the wire JSON); it is masked when the event is
rendered (``as_dict``, ``line``): phone numbers to their last 4 digits, at any depth. So
building an event costs a few attribute writes, and rendering happens only for a subscriber
(``relay.obs.feed``). Nothing secret is ever put in an event: outboundIQ's answers arrive
here already redacted (``relay.delivery.outcomes``), and the source's secrets never reach a
payload.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson

from relay.obs.masking import mask_document, mask_phones_in_text

__all__ = [
    "DELIVERY_KINDS",
    "FILTER_OUTCOMES",
    "INTAKE_KINDS",
    "KINDS",
    "RECEIVED",
    "Missed",
    "RelayEvent",
    "Skipped",
    "masked_json",
    "masked_payload",
    "selected_kinds",
]

#: Every intake answer's outcome (``relay.intake.answers``; a test keeps them in step).
INTAKE_KINDS = (
    "queued",
    "duplicate",
    "coalesced",
    "ignored",
    "validated",
    "batch",
    "rejected",
    "unauthorized",
    "unknown_source",
    "forbidden_ip",
    "rate_limited",
    "bad_request",
    "timeout",
    "too_large",
    "headers_too_large",
    "unsupported_media",
    "unavailable",
    "error",
)
DELIVERY_KINDS = ("delivered", "retried", "dead_lettered")
KINDS = INTAKE_KINDS + DELIVERY_KINDS
#: The filter that selects every intake event.
RECEIVED = "received"
#: What a subscriber may filter on: a kind, or ``received``.
FILTER_OUTCOMES = (RECEIVED, *KINDS)
_DELIVERY = frozenset(DELIVERY_KINDS)
#: The longest free text an event carries (a reason, outboundIQ's answer).
DETAIL_CHARS = 300


def selected_kinds(outcomes: Iterable[str]) -> frozenset[str]:
    """The kinds ``outcomes`` select (``received``: every intake kind; empty: none named, so
    every kind); ``ValueError`` naming one that is neither a kind nor ``received``."""
    wanted = frozenset(outcomes)
    unknown = sorted(wanted.difference(FILTER_OUTCOMES))
    if unknown:
        raise ValueError(
            f"unknown outcome {unknown[0][:40]!r}: use one of {', '.join(FILTER_OUTCOMES)}"
        )
    return (wanted - {RECEIVED}) | frozenset(INTAKE_KINDS) if RECEIVED in wanted else wanted


def masked_payload(payload: bytes) -> Any:
    """A stored payload as an event shows it: JSON with every phone number masked (text that
    is not JSON: its phone numbers masked, cut to ``DETAIL_CHARS``)."""
    try:
        return mask_document(orjson.loads(payload))
    except orjson.JSONDecodeError:
        return mask_phones_in_text(payload[:DETAIL_CHARS].decode("utf-8", "replace"))


#: Payloads rendered lately, and their masked JSON: a dial's intake event and its delivery
#: event carry the same payload, which is masked once for both. Bounded (oldest out first).
_RENDERED: dict[bytes, orjson.Fragment] = {}
_RENDERED_MAX = 2048


def masked_json(payload: bytes) -> orjson.Fragment:
    """``masked_payload`` as JSON, ready to embed in an event's line (remembered a while)."""
    rendered = _RENDERED.get(payload)
    if rendered is None:
        rendered = orjson.Fragment(orjson.dumps(masked_payload(payload)))
        if len(_RENDERED) >= _RENDERED_MAX:
            del _RENDERED[next(iter(_RENDERED))]
        _RENDERED[payload] = rendered
    return rendered


class RelayEvent:
    """One thing that happened, at ``at`` (epoch seconds), on ``replica``.

    ``queue_id`` is the record's id in the relay's stores (the queue or dead-letter id;
    ``rejected``: the rejected store's); ``status`` the HTTP status (the relay's answer at
    intake, outboundIQ's in delivery); ``reason`` why (a retry's or dead letter's reason, an
    ignored webhook's, a rejection's problems); ``payload`` the dial's wire JSON, raw (masked
    when rendered). ``repr`` shows no payload.
    """

    #: The name of its server-sent event (None: the default, ``message``).
    FRAME: str | None = None

    __slots__ = (
        "_line",
        "at",
        "attempt",
        "detail",
        "dial_id",
        "kind",
        "payload",
        "queue_id",
        "reason",
        "replica",
        "source",
        "status",
    )

    def __init__(
        self,
        kind: str,
        source: str,
        *,
        dial_id: str | None = None,
        queue_id: str | None = None,
        status: int | None = None,
        reason: str | None = None,
        detail: str | None = None,
        attempt: int | None = None,
        payload: bytes | None = None,
        replica: str = "",
        at: float | None = None,
    ) -> None:
        self.kind = kind
        self.source = source
        self.dial_id = dial_id
        self.queue_id = queue_id
        self.status = status
        self.reason = reason
        self.detail = detail
        self.attempt = attempt
        self.payload = payload
        self.replica = replica
        self.at = time.time() if at is None else at
        self._line: bytes | None = None

    @property
    def stage(self) -> str:
        """``delivery`` for the forwarder's events, ``intake`` for the rest."""
        return "delivery" if self.kind in _DELIVERY else "intake"

    def as_dict(self) -> dict[str, Any]:
        """The event as the feed sends it (phones masked; ``None`` fields left out)."""
        out = self._fields()
        if self.payload is not None:
            out["payload"] = masked_payload(self.payload)
        return out

    def _fields(self) -> dict[str, Any]:
        """``as_dict`` without the payload."""
        out: dict[str, Any] = {
            "at": round(self.at, 6),
            "replica": self.replica,
            "stage": self.stage,
            "kind": self.kind,
            "source": self.source,
        }
        for name in ("dial_id", "queue_id", "status", "attempt"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("reason", "detail"):
            text = getattr(self, name)
            if text:
                out[name] = mask_phones_in_text(text[:DETAIL_CHARS])
        return out

    def line(self) -> bytes:
        """``as_dict`` as one line of JSON, rendered once however many subscribers read it
        (and its payload once for every event that carries it: ``masked_json``)."""
        if self._line is None:
            out = self._fields()
            if self.payload is not None:
                out["payload"] = masked_json(self.payload)
            self._line = orjson.dumps(out)
        return self._line

    def __repr__(self) -> str:
        return (
            f"RelayEvent({self.kind!r}, {self.source!r}, dial_id={self.dial_id!r}, "
            f"replica={self.replica!r})"
        )


class Missed:
    """In a subscriber's stream: ``count`` events were dropped before the next one, because
    the subscriber read more slowly than the relay worked."""

    FRAME = "missed"

    __slots__ = ("count", "replica")

    def __init__(self, count: int, replica: str = "") -> None:
        self.count = count
        self.replica = replica

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "missed", "missed": self.count, "replica": self.replica}

    def line(self) -> bytes:
        return orjson.dumps(self.as_dict())

    def __repr__(self) -> str:
        return f"Missed({self.count})"


class Skipped:
    """In a subscriber's stream: ``count`` events were left out before the next one, because
    more than ``per_second`` events of one kind came within a second (a subscription with a
    rate limit: the console's Live page)."""

    FRAME = "skipped"

    __slots__ = ("count", "per_second", "replica")

    def __init__(self, count: int, per_second: int, replica: str = "") -> None:
        self.count = count
        self.per_second = per_second
        self.replica = replica

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "skipped",
            "skipped": self.count,
            "per_second": self.per_second,
            "replica": self.replica,
        }

    def line(self) -> bytes:
        return orjson.dumps(self.as_dict())

    def __repr__(self) -> str:
        return f"Skipped({self.count})"
