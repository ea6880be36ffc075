"""RingCentral telephony session notifications (webhook subscription to
``/restapi/v1.0/account/~/telephony/sessions``).

RingCentral sends one notification per change of one party of a call (a *telephony
session*, ``body.telephonySessionId``): Setup, Proceeding, Answered, Hold, Disconnected…, for
the RingCentral user's party (it has an ``extensionId``) and for the customer's (PSTN) party
(no ``extensionId``). Deliveries may arrive out of order (``body.sequence``) and more than once.

**The final event** is the customer-facing party's ``Disconnected``: the customer is the one
party present for the whole call (IVR menus, queue agents ringing and transferring agents come
and go, each with a ``Disconnected`` of its own while the call goes on). That event alone
becomes the dial, ``dial_id`` = ``telephonySessionId``, so a repeated or second final-looking
delivery is a duplicate; every other event is answered ``200 ignored``. A session without a
customer party (an internal extension-to-extension call) never makes a dial. ``Gone`` (the
party moved to another session) does not end a party. A notification of another event filter
(``event`` without ``/telephony/sessions``: presence, a subscription's renewal reminder) is
ignored too.

**Direction.** A party's ``direction`` describes its own leg: the customer's leg of an outbound
call is ``Inbound`` (it goes *into* the customer). So the call is ``Outbound`` when the
customer's party is ``Inbound``, and the other way round. Our side of the call is the
extension end of the customer's party: ``from`` on an outbound call (the user who dialled, with
the caller ID used), ``to`` on an inbound one (the number the customer dialled, and the
extension it reached first).

==================  =============================================================
Dials field         from the customer party's ``Disconnected`` notification
==================  =============================================================
dial_id             ``body.telephonySessionId``
ani                 our side's ``phoneNumber``
prospect_phone      the customer's side's ``phoneNumber``
call_direction      ``Outbound`` / ``Inbound`` (the party's own direction, inverted)
datetime            ``body.eventTime`` (when the call ended), else the envelope's ``timestamp``
agent_name          our side's ``name`` (the extension's), unless it is a routing extension
skill_name          the routing extension's name (an IVR menu or call queue, ``options``)
disposition_name    ``status.reason`` in words (``No Answer``, ``Busy``…), ``Missed`` for a
                    missed call, else ``Hung Up``
==================  =============================================================
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from relay.sdk import InboundRequest, MappingContext, MappingError, MappingResult, Problem

__all__ = ["DISPOSITIONS", "RingCentralMapping", "RingCentralOptions", "call_direction"]

#: RingCentral's end reasons (``status.reason``) as disposition names; another reason is
#: spelt out from its CamelCase (``CallerInputRedirect`` → ``Caller Input Redirect``).
DISPOSITIONS: dict[str, str] = {
    "noanswer": "No Answer",
    "targetbusy": "Busy",
    "voicemail": "Voicemail",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "invalidnumber": "Invalid Number",
    "internationaldisabled": "International Disabled",
    "destinationblocked": "Destination Blocked",
    "notenoughfunds": "Not Enough Funds",
    "nosuchuser": "No Such User",
    "calldropped": "Dropped",
    "callfinished": "Hung Up",
}
HUNG_UP = "Hung Up"
MISSED = "Missed"
#: Origins that are not calls with a customer (a greeting being recorded, a verification call).
NOT_CALLS = frozenset({"greetingsrecording", "verificationcall", "testcall"})
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


class RingCentralOptions(BaseModel):
    """A RingCentral source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: Extension ids of IVR menus and call queues: when the customer reached one of them, its
    #: name is the ``skill_name``, not the agent.
    routing_extensions: list[str] = Field(default_factory=list)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def call_direction(party_direction: str) -> str | None:
    """The call's direction from the customer party's own ``direction`` (None: unknown)."""
    own = party_direction.strip().casefold()
    return {"inbound": "Outbound", "outbound": "Inbound"}.get(own)


def disposition(status: dict[str, Any], missed: bool) -> str:
    """The disposition name of a ``Disconnected`` status."""
    reason = _text(status.get("reason"))
    if reason:
        return DISPOSITIONS.get(reason.casefold(), _CAMEL.sub(" ", reason))
    return MISSED if missed else HUNG_UP


def _final_customer(parties: list[Any]) -> tuple[dict[str, Any] | None, str]:
    """The customer-facing party that has ended, or (None, why the event is not final)."""
    customers = [p for p in parties if isinstance(p, dict) and not _text(p.get("extensionId"))]
    if not customers:
        return None, "an extension's party: a call ends with the customer's party Disconnected"
    for party in customers:
        if _text(_obj(party.get("status")).get("code")).casefold() == "disconnected":
            return party, ""
    code = _text(_obj(customers[0].get("status")).get("code")) or "without status"
    return None, f"the customer's party is {code}: the call has not ended"


class RingCentralMapping:
    """Maps the customer party's final notification of a telephony session onto Dials fields."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = RingCentralOptions.model_validate(options or {})
        self._routing = frozenset(self.options.routing_extensions)

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        data = request.data if isinstance(request.data, dict) else {}
        event = _text(data.get("event"))
        if event and "/telephony/sessions" not in event:  # another filter of the subscription
            return MappingResult({}, ignored="not a telephony session event")
        body = _obj(data.get("body"))
        session = _text(body.get("telephonySessionId"))
        if not session:
            raise MappingError(
                [Problem("body", "not a RingCentral telephony session notification")]
            )
        parties = body.get("parties")
        if not isinstance(parties, list):
            raise MappingError([Problem("body.parties", "expected a list of parties")])
        origin = _text(_obj(body.get("origin")).get("type")).casefold()
        if origin in NOT_CALLS:
            return MappingResult({}, ignored=f"{origin} sessions are not calls")
        party, why = _final_customer(parties)
        if party is None:
            return MappingResult({}, ignored=why)
        direction = call_direction(_text(party.get("direction")))
        if direction is None:
            raise MappingError([Problem("call_direction", "the party's direction is unknown")])
        ours, theirs = ("from", "to") if direction == "Outbound" else ("to", "from")
        our_side, customer = _obj(party.get(ours)), _obj(party.get(theirs))
        name = _text(our_side.get("name")) if _text(our_side.get("extensionId")) else ""
        routed = _text(our_side.get("extensionId")) in self._routing
        missed = any(isinstance(p, dict) and p.get("missedCall") is True for p in parties)
        fields: dict[str, object] = {
            "dial_id": session,
            "ani": _text(our_side.get("phoneNumber")),
            "prospect_phone": _text(customer.get("phoneNumber")),
            "call_direction": direction,
            "datetime": _text(body.get("eventTime")) or _text(data.get("timestamp")),
            "agent_name": "" if routed else name,
            "skill_name": name if routed else "",
            "disposition_name": disposition(_obj(party.get("status")), missed),
        }
        return MappingResult(fields=fields)
