"""Genesys ids: UUIDs, checked before one becomes a path segment of a Genesys API call.

Every Genesys Cloud object id the mapping looks up (conversation, user, queue, wrap-up code,
campaign, contact list) is a UUID, ``5773eca4-0874-4617-a6e8-85591aa94609``; outbound contact
ids are the same 128 bits written as 32 hex digits, ``38a1195b0f6285bfe8086ffd6e0be2e1``
(Genesys' analytics conversation details, ``outboundContactId``). Anything else is refused
before a URL is built from it: a ``conversationId`` of ``..`` would otherwise send the OAuth
token to another Genesys path. At intake that is a field error (422, the request is kept);
the API client (``mappings.genesys.api``) checks again before every request.
"""

from __future__ import annotations

import re

from mappings.genesys.conversation import CallFacts
from mappings.genesys.rules import is_system_code
from relay.sdk import MappingError, Problem

__all__ = ["NOT_AN_ID", "check_id", "fact_problems", "is_genesys_id"]

NOT_AN_ID = "not a Genesys id (a UUID)"
_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", re.IGNORECASE
)


def is_genesys_id(value: str) -> bool:
    """A UUID, canonical (8-4-4-4-12) or as 32 hex digits: only hex digits and dashes."""
    return _ID.fullmatch(value) is not None


def check_id(value: str, field: str) -> str:
    """``value`` when it is a Genesys id, else a ``MappingError`` naming ``field``."""
    if not is_genesys_id(value):
        raise MappingError([Problem(field, NOT_AN_ID)])
    return value


def fact_problems(facts: CallFacts) -> list[Problem]:
    """The ids of a conversation the resolution would look up that are not Genesys ids
    (named as the analytics details name them; ``ININ-*`` wrap-up codes are not ids)."""
    named = (
        ("userId", facts.user_id),
        ("queueId", facts.queue_id),
        ("outboundCampaignId", facts.campaign_id),
        ("outboundContactListId", facts.contact_list_id),
        ("outboundContactId", facts.contact_id),
        ("wrapUpCode", "" if is_system_code(facts.wrapup_code) else facts.wrapup_code),
    )
    return [
        Problem(field, NOT_AN_ID) for field, value in named if value and not is_genesys_id(value)
    ]
