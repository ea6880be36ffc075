"""Unrendered placeholders: template text a sender left where a value should be.

Dialers fill their webhook templates per call; a variable they cannot fill often arrives as
its own source text. Such a value is never data, so every mapping treats it as empty (the
relay reports each one: ``relay.core.screening``). Recognised, anywhere in a value:

==================================  ===============================================
Five9 Web Connector                 ``@Call.skill_name@``, ``@Contact.lead source@``
VICIdial Dispo Call URL             ``--A--called_count--B--``
Velocity (Genesys Data Actions)     ``${input.x}``, ``$!{input.x}``,
                                    ``$esc.jsonString(...)``, ``$input.x``
Mustache / Handlebars               ``{{lead.phone}}``, ``{{{x}}}``
==================================  ===============================================

and, as the whole value (any case), the nulls senders print: ``null``, ``undefined``,
``[None]``, ``[null]``, ``(null)``, ``<null>``, ``(none)``, ``<none>``.

A real value is never taken for one: phone numbers, dates, and names or e-mails with ``$`` or
``@`` inside (``Ca$h Flow``, ``ops@acme.com``) do not have a placeholder's shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "any_placeholder",
    "any_placeholder_in_text",
    "first_set",
    "is_placeholder",
    "unrendered",
]

_TOKEN = re.compile(
    r"""
      @(?:Call|Agent|Contact|Customer|Campaign|Skill|Worksheet)\.[^@\s][^@\r\n]*@  # Five9
    | --A--\w+--B--                                                # VICIdial
    | \$!?\{[^{}]*\}                                               # Velocity ${x}, $!{x}
    | (?<![\w$])\$!?(?:input|esc|math|credentials|encoding|flow|context)\.\w  # $input.x
    | (?<![\w$])\$!?[A-Za-z_]\w*\.[A-Za-z_]\w*\(                   # a Velocity call: $a.b(
    | \{\{[^{}]*\}\}                                               # Mustache {{x}}
    """,
    re.VERBOSE,
)
#: A whole value shaped like a Five9 variable whose group we do not list: ``@Acme.field@``.
_FIVE9_WHOLE = re.compile(r"@[A-Za-z_][\w ]*\.[^@\r\n]+@")
_NULLS = frozenset(
    ["null", "undefined", "[none]", "[null]", "(null)", "<null>", "(none)", "<none>"]
)
_LONGEST_NULL = max(map(len, _NULLS))
#: How a printed null can start (with spaces around it): most values are ruled out by one look.
_NULL_FIRST = frozenset("nNuU[(< \t\r\n")


def unrendered(value: object) -> str | None:
    """The placeholder text ``value`` is (stripped), or None when it is a real value."""
    if type(value) is not str:
        return None
    # The common case, a value without any placeholder's mark: four substring scans in C.
    if not ("@" in value or "$" in value or "{" in value or "--A--" in value):
        if value[:1] not in _NULL_FIRST or len(value) > _LONGEST_NULL + 8:
            return None  # (a printed null padded with more than 8 spaces is not one)
        text = value.strip()
        return text if text.casefold() in _NULLS else None
    text = value.strip()
    if _TOKEN.search(text) or _FIVE9_WHOLE.fullmatch(text):
        return text
    return None


def any_placeholder(values: Iterable[object]) -> bool:
    """Whether any of ``values`` may be a placeholder (no false negatives): substring scans of
    them all at once, so the common webhook, without one, skips the check per value."""
    return any_placeholder_in_text([value for value in values if type(value) is str])


def any_placeholder_in_text(texts: list[str]) -> bool:
    """``any_placeholder`` of values already known to be text (a caller that picked them out
    itself spares the second pass: most of the check's cost for a flat webhook)."""
    joined = "\x00".join(texts)
    if "@" in joined or "$" in joined or "{" in joined or "--A--" in joined:
        return True
    folded = joined.casefold()
    return "null" in folded or "undefined" in folded or "none" in folded


def is_placeholder(value: object) -> bool:
    """Whether ``value`` is an unrendered placeholder (or a printed null), never data."""
    return unrendered(value) is not None


def first_set(*values: str) -> str:
    """The first value that is set and is not a placeholder; failing that, the first
    placeholder (so the relay reports it and treats it as empty); else ``""``.

    For a mapping choosing between alternatives: ``first_set(dnis, number)``.
    """
    fallback = ""
    for value in values:
        text = value.strip()
        if not text:
            continue
        if not is_placeholder(text):
            return text
        fallback = fallback or text
    return fallback
