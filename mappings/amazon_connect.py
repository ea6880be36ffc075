"""Amazon Connect contact records (CTRs), one record per request or many per Firehose batch.

Connect streams a contact record when a contact ends (and again when it is updated) to a
Kinesis Data Firehose stream; Firehose POSTs batches of them to the relay (``auth: {type:
firehose}``: the envelope, the access key and the answers Firehose needs live in
``relay.intake.firehose``). Each record reaches this mapping as its own JSON object; a
backfill reads the same objects from the CTR files Firehose writes to S3
(``read_ctr_files``). docs/vendors/amazon-connect.md is the admin's guide.

==============================================  ============================================
contact record field                            Dials field
==============================================  ============================================
``ContactId``                                   ``dial_id``
``InitiationMethod``                            ``call_direction`` (table below)
``SystemEndpoint.Address``                      ``ani`` (our number, whatever the direction)
``CustomerEndpoint.Address``                    ``prospect_phone``
``InitiationTimestamp``                         ``datetime`` (UTC)
``Agent.Username``                              ``agent_name``
``Queue.Name``                                  ``skill_name``
``Campaign.CampaignId``                         ``campaign_id`` (outbound campaigns)
``Attributes[disposition_attribute]``           ``disposition_name``; else the dialer's
                                                outcome: ``AnsweringMachineDetectionStatus``
                                                (not a human), else ``DisconnectReason``
``Attributes[...]`` (option ``attributes``)     any other Dials field
==============================================  ============================================

Ignored (``200``, nothing stored): another channel than ``VOICE`` (chat, task, email), a
supervisor's ``MONITOR`` leg, a ``DISCONNECT`` flow's contact, and a contact that has not ended
(no ``DisconnectTimestamp``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relay.sdk import (
    DIAL_FIELDS,
    InboundRequest,
    MappingContext,
    MappingError,
    MappingResult,
    Problem,
)

__all__ = ["DIRECTIONS", "AmazonConnectMapping", "AmazonConnectOptions", "direction_of"]

#: ``InitiationMethod`` → outboundIQ direction. API: StartOutboundVoiceContact (a voice
#: contact placed by the API), CALLBACK: a queued callback, dialled out to the customer.
DIRECTIONS: dict[str, str] = {
    "INBOUND": "Inbound",
    "OUTBOUND": "Outbound",
    "EXTERNAL_OUTBOUND": "Outbound",
    "API": "Outbound",
    "CALLBACK": "Outbound",
    "TRANSFER": "Transfer",
    "QUEUE_TRANSFER": "Transfer",
}

#: Contacts that are not a call with the customer: a supervisor listening in, a disconnect flow.
IGNORED_METHODS = frozenset({"MONITOR", "DISCONNECT"})

#: AMD results that say a person answered (or that AMD did not run): no dialer outcome.
HUMAN = frozenset({"ANSWERED", "HUMAN_ANSWERED", "AMD_NOT_APPLICABLE"})

#: Dials fields the ``attributes`` option may fill from contact attributes.
_ATTRIBUTE_FIELDS = frozenset(DIAL_FIELDS) - {"dial_id", "disposition_name"}


class AmazonConnectOptions(BaseModel):
    """An Amazon Connect source's ``options``."""

    model_config = ConfigDict(extra="forbid")

    #: The contact attribute a flow or the agent's disposition sets (``Set contact
    #: attributes`` block); empty or absent: the dialer's outcome is used.
    disposition_attribute: str = "disposition"
    #: Dials field → contact attribute, e.g. ``{zip: zip, lead_source: leadSource}``.
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _dial_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - _ATTRIBUTE_FIELDS)
        if unknown:
            raise ValueError(f"not a Dials field an attribute may fill: {', '.join(unknown)}")
        return value


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _part(record: dict[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def _phone(endpoint: dict[str, Any]) -> str:
    """An endpoint's address when it is a phone number (not a softphone or a chat)."""
    kind = _text(endpoint.get("Type"))
    return _text(endpoint.get("Address")) if kind in ("", "TELEPHONE_NUMBER") else ""


def direction_of(record: dict[str, Any]) -> str:
    """The outboundIQ direction of a contact record (an unknown method is passed on as sent,
    for the relay to flag; a campaign's contact is outbound whatever its method)."""
    if _text(_part(record, "Campaign").get("CampaignId")):
        return "Outbound"
    method = _text(record.get("InitiationMethod")).upper()
    return DIRECTIONS.get(method, method)


def dialer_outcome(record: dict[str, Any]) -> str:
    """What the dialer knows of the call's result: a machine / tone / no answer from AMD,
    else why the contact ended."""
    amd = _text(record.get("AnsweringMachineDetectionStatus"))
    if amd and amd.upper() not in HUMAN:
        return amd
    return _text(record.get("DisconnectReason"))


def ignored_because(record: dict[str, Any]) -> str | None:
    channel = _text(record.get("Channel")).upper()
    if channel and channel != "VOICE":
        return f"{channel} contacts are not calls"
    method = _text(record.get("InitiationMethod")).upper()
    if method in IGNORED_METHODS:
        return f"{method} contacts are not calls with the customer"
    if not _text(record.get("DisconnectTimestamp")):
        return "the contact has not ended"
    return None


class AmazonConnectMapping:
    """Maps one Amazon Connect contact record onto Dials fields."""

    #: A Firehose batch may carry several copies of one contact: keep the latest one
    #: (``relay.intake.firehose``).
    record_key = "ContactId"
    record_version = "LastUpdateTimestamp"

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = AmazonConnectOptions.model_validate(options or {})

    def map(self, request: InboundRequest, context: MappingContext) -> MappingResult:
        record = request.data
        if not isinstance(record, dict) or "ContactId" not in record:
            raise MappingError([Problem("body", "expected an Amazon Connect contact record")])
        why = ignored_because(record)
        if why is not None:
            return MappingResult({}, ignored=why)
        attributes = _part(record, "Attributes")
        disposition = _text(attributes.get(self.options.disposition_attribute))
        fields: dict[str, object] = {
            "dial_id": _text(record.get("ContactId")),
            "call_direction": direction_of(record),
            "ani": _phone(_part(record, "SystemEndpoint")),
            "prospect_phone": _phone(_part(record, "CustomerEndpoint")),
            "datetime": _text(record.get("InitiationTimestamp")),
            "agent_name": _text(_part(record, "Agent").get("Username")),
            "skill_name": _text(_part(record, "Queue").get("Name")),
            "campaign_id": _text(_part(record, "Campaign").get("CampaignId")),
            "disposition_name": disposition or dialer_outcome(record),
        }
        for name, attribute in self.options.attributes.items():
            value = _text(attributes.get(attribute))
            if value:
                fields[name] = value
        return MappingResult(fields=fields)
