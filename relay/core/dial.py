"""The Dial: outboundIQ's wire payload, and how mapped fields become one.

The wire shape lives here and only here (``Dial`` and ``Dial.to_wire``), so a change in
outboundIQ's field names is one edit.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import tzinfo
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from relay.core.normalize import (
    normalize_attempts,
    normalize_date,
    normalize_datetime,
    normalize_dial_id,
    normalize_direction,
    normalize_phone,
    normalize_zip,
    rename,
)
from relay.exceptions import MappingError, Problem
from relay.obs.logs import mask_phone

__all__ = [
    "DIAL_FIELDS",
    "REQUIRED_FIELDS",
    "Dial",
    "build_dial",
    "only_dial_fields",
    "synthetic_dial_id",
]

#: Namespace of the deterministic dial ids the relay makes when a vendor gives none.
DIAL_ID_NAMESPACE = uuid.UUID("6f0d7a59-1c54-4c36-9d0e-6a4be2f1b0a1")


class Dial(BaseModel):
    """One record for ``POST /dials``: exactly the documented fields, nothing else."""

    # A key that is not a Dials field is left out (``extra="ignore"``), never sent:
    # ``build_dial`` reports one as the field's problem before it builds a Dial, and
    # pydantic's own check for extras cost a quarter of the validation on every webhook.
    # The schema still says ``additionalProperties: false`` (the OpenAPI document).
    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"additionalProperties": False}
    )

    campaign_id: str
    campaign_name: str
    agent_name: str
    ani: str
    disposition_name: str
    prospect_phone: str
    datetime: str
    call_direction: str
    zip: str
    sys_created_date_original: str
    total_dial_attempts: int | str
    skill_name: str
    lead_source: str
    dial_id: str

    def to_wire(self) -> bytes:
        """The JSON body sent to outboundIQ (the fields in their declared order)."""
        return orjson.dumps(self.__dict__)


DIAL_FIELDS: tuple[str, ...] = tuple(Dial.model_fields)
REQUIRED_FIELDS: tuple[str, ...] = ("ani", "prospect_phone", "datetime", "disposition_name")
_PHONE_FIELDS = ("ani", "prospect_phone")


def only_dial_fields(names: Iterable[str], allowed: Iterable[str] = DIAL_FIELDS) -> None:
    """Raise ``ValueError`` naming every key that is not a Dials field (option validators)."""
    known = sorted(allowed)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"not Dials fields: {', '.join(_guessed(n, known) for n in unknown)}")


def _guessed(name: str, known: list[str]) -> str:
    """``name``, with the Dials field it likely misspells: ``phone (did you mean ...?)``."""
    close = difflib.get_close_matches(name, known, n=1) or [k for k in known if name in k][:1]
    return f"{name} (did you mean {close[0]!r}?)" if close else name


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def synthetic_dial_id(source: str, fields: Mapping[str, Any]) -> str:
    """A deterministic UUIDv5 of the source name and the canonical (sorted) payload."""
    canonical = orjson.dumps(
        {k: v for k, v in fields.items() if k != "dial_id"}, option=orjson.OPT_SORT_KEYS
    )
    return str(uuid.uuid5(DIAL_ID_NAMESPACE, source + "\n" + canonical.decode()))


def build_dial(
    fields: Mapping[str, object],
    *,
    source: str,
    tz: tzinfo,
    defaults: Mapping[str, str] | None = None,
    directions: Mapping[str, str] | None = None,
    dispositions: Mapping[str, str] | None = None,
) -> Dial:
    """Normalize mapped ``fields`` into a Dial, or raise ``MappingError`` listing every problem.

    Empty fields take the source's ``defaults``, else ``""``. ``directions`` and
    ``dispositions`` are the source's rename tables (case-insensitive). ``dial_id`` is the
    vendor's id when given, else a deterministic UUIDv5 (see ``synthetic_dial_id``).
    """
    defaults = defaults or {}
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    if not _FIELD_SET.issuperset(fields):
        unknown = sorted(set(fields) - _FIELD_SET)
        problems.extend(Problem(name, "not a Dials field") for name in unknown)
    for name, normalizer in _PLAN:
        raw = fields.get(name)
        if type(raw) is str:
            text = raw.strip()
            if text and normalizer is None:  # plain text, the common case: inline
                out[name] = text
                continue
            if not text:
                raw = None
        if raw is None:
            raw = defaults.get(name, "")
            if _is_empty(raw):
                if name in REQUIRED_FIELDS:
                    problems.append(Problem(name, "required, but missing or empty"))
                out[name] = ""
                continue
        try:
            out[name] = _text(raw) if normalizer is None else normalizer(raw, tz, directions)
        except Exception as exc:  # every normalizer's failure is the field's problem (a 422)
            problems.append(_problem(name, raw, exc))
    raw_id = fields.get("dial_id")
    dial_id = None
    if not _is_empty(raw_id):
        try:
            dial_id = normalize_dial_id(raw_id)
        except ValueError as exc:
            problems.append(_problem("dial_id", raw_id, exc))
    if problems:
        raise MappingError(problems)
    if dispositions:
        out["disposition_name"] = rename(out["disposition_name"], dispositions)
    out["dial_id"] = dial_id or synthetic_dial_id(source, out)
    return Dial.model_validate(out)


def _problem(name: str, raw: object, exc: Exception) -> Problem:
    reason = str(exc) if isinstance(exc, ValueError) else f"cannot be read ({type(exc).__name__})"
    return Problem(name, f"{reason} (got {_describe(name, raw)})")


_FIELD_SET = frozenset(DIAL_FIELDS)
_VALUE_FIELDS = tuple(name for name in DIAL_FIELDS if name != "dial_id")


def _text(raw: object) -> str:
    if isinstance(raw, (dict, list)):  # a tuple: no union object built per call
        raise ValueError("expected a text value, got an object")
    return str(raw).strip()


_Normalizer = Callable[[object, tzinfo, Mapping[str, str] | None], int | str]

#: Entries a memo keeps before it starts again (bounded memory whatever the traffic).
MEMO_SIZE = 4096


def _memo(normalize: _Normalizer) -> _Normalizer:
    """``normalize`` remembered per (text, zone), for the fields whose values repeat across
    calls (caller IDs, ZIP codes, lead dates, directions, attempts); never the prospect's
    number or the call time, which are new on every call. A value that fails is not kept."""
    memo: dict[tuple[str, tzinfo], int | str] = {}

    def remembered(raw: object, tz: tzinfo, directions: Mapping[str, str] | None) -> int | str:
        if type(raw) is not str or directions:
            return normalize(raw, tz, directions)
        key = (raw, tz)
        value = memo.get(key)
        if value is None:
            value = normalize(raw, tz, directions)
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[key] = value
        return value

    return remembered


_NORMALIZERS: dict[str, _Normalizer] = {
    "ani": _memo(lambda raw, _tz, _d: normalize_phone(raw)),
    "prospect_phone": lambda raw, _tz, _d: normalize_phone(raw),
    "datetime": lambda raw, tz, _d: normalize_datetime(raw, tz),
    "sys_created_date_original": _memo(lambda raw, tz, _d: normalize_date(raw, tz)),
    "zip": _memo(lambda raw, _tz, _d: normalize_zip(raw)),
    "call_direction": _memo(lambda raw, _tz, directions: normalize_direction(raw, directions)),
    "total_dial_attempts": _memo(lambda raw, _tz, _d: normalize_attempts(raw)),
}


_PLAN = tuple((name, _NORMALIZERS.get(name)) for name in _VALUE_FIELDS)


def _describe(name: str, raw: object) -> str:
    """A short quote of a rejected value; phone numbers are masked to their last 4 digits."""
    try:
        text = str(raw)
    except ValueError:  # an integer too long to write out
        return "a number too long to show"
    if name in _PHONE_FIELDS and any(c.isdigit() for c in text):
        return mask_phone(text)
    return repr(text if len(text) <= 40 else text[:37] + "...")
