"""Masking phone numbers: to their last 4 digits, in a value, in free text, at any depth of a
JSON document. The log lines (``relay.obs.logs``), the live feed's events and every page and
command that shows a dial use it; no full phone number leaves the relay through them.

``mask_document`` runs on every event the live feed renders, so its common cases are short
cuts (a text too short for a phone, a timestamp, a text seen lately without one), each held
equal to the plain definition by property tests (tests/unit/obs/test_feed.py).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PHONE_KEYS", "mask_document", "mask_phone", "mask_phones_in_text"]

#: Keys whose values are phone numbers (any case): masked whole, whatever they look like.
PHONE_KEYS = frozenset({"ani", "prospect_phone", "phone", "dnis", "number", "phone_number"})
# 10 to 15 digits, optionally with +, spaces, dots, dashes, slashes or parentheses between.
# 10 digits or more, with separators: numbers written side by side ("512-555-0187 512-555-0188")
# are one run, masked whole (to its last 4 digits) rather than cut after 15 digits.
_PHONE_IN_TEXT = re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().\-/]{0,2}\d){9,}(?![\w.])")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")
#: The fewest digits ``_PHONE_IN_TEXT`` takes for a phone number: a shorter text holds none.
_PHONE_MIN_DIGITS = 10
#: A date or date-time as Dials and dialers write them (ISO 8601, to the microsecond) that
#: ``mask_phones_in_text`` leaves as it is (seconds, a fraction and a negative offset together
#: make 10 digits it would mask, so that shape is left to it).
_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}"
    r"(?:(?::\d{2}(?:\.\d{1,6})?)?(?:Z|\+\d{2}:?\d{2})?|(?::\d{2})?-\d{2}:?\d{2}))?"
)
#: How many texts and keys the short cuts remember (then they start again).
_REMEMBERED = 4096
#: Texts known to hold no phone number (campaign, agent, skill names recur from dial to dial):
#: ``mask_document`` skips the pattern for them. Never holds a text with a phone.
_CLEAN_TEXTS: set[str] = set()
#: Whether a key is phone-ish (``PHONE_KEYS``, any case), for the keys seen lately.
_PHONE_KEY_SEEN: dict[str, bool] = {}


def mask_phone(value: str) -> str:
    """``5125550187`` → ``******0187``: only the last 4 digits stay readable. A value masked
    already stays as it is (masking twice would hide the last 4 digits too)."""
    if value[:1] == "*":
        rest = value.lstrip("*")
        if len(rest) <= 4 and all(c.isdigit() for c in rest):
            return value
    digits = "".join(filter(str.isdigit, value))
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_phones_in_text(text: str) -> str:
    """Every phone-looking run of 10-15 digits in ``text`` masked (dates are left alone)."""

    def mask(match: re.Match[str]) -> str:
        found = match.group(0)
        if _DATE_PREFIX.match(found):  # a date stays; what follows it is looked at again
            return found[:10] + _PHONE_IN_TEXT.sub(mask, found[10:])
        return mask_phone(found)

    return _PHONE_IN_TEXT.sub(mask, text)


def mask_document(node: Any, key: str | None = None) -> Any:
    """A copy of a JSON document (a Dial, a vendor's event) safe to show: values under a
    phone-ish key (``ani``, ``prospect_phone``, ``dnis``..., any case) masked to their last 4
    digits, at any depth, and phone numbers inside any other text; the ``dial_id`` is left as
    it is (it is the id every log line and command names)."""
    if isinstance(node, dict):
        return {k: mask_document(v, k if type(k) is str else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [mask_document(v, key) for v in node]
    if key is not None and _phone_key(key):
        if isinstance(node, str) or type(node) is int:
            return mask_phone(str(node))
        return node
    if isinstance(node, str) and len(node) >= _PHONE_MIN_DIGITS and key != "dial_id":
        return _masked_text(node)
    return node


def _phone_key(key: str) -> bool:
    found = _PHONE_KEY_SEEN.get(key)
    if found is None:
        if len(_PHONE_KEY_SEEN) >= _REMEMBERED:
            _PHONE_KEY_SEEN.clear()
        found = _PHONE_KEY_SEEN[key] = key.lower() in PHONE_KEYS
    return found


def _masked_text(text: str) -> str:
    """``mask_phones_in_text``, remembering the texts it left as they were (a timestamp, unique
    to its dial, is let through at once)."""
    if text in _CLEAN_TEXTS or _TIMESTAMP.fullmatch(text):
        return text
    masked = mask_phones_in_text(text)
    if masked == text:
        if len(_CLEAN_TEXTS) >= _REMEMBERED:
            _CLEAN_TEXTS.clear()
        _CLEAN_TEXTS.add(text)
    return masked
