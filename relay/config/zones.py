"""IANA time zones by name, as the sources file and the normalizers read them."""

from __future__ import annotations

import difflib
import functools
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = ["zone"]


def zone(name: str | None) -> tzinfo:
    """The IANA time zone ``name`` (``UTC`` when empty); ``ValueError`` when unknown."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        close = difflib.get_close_matches(name, _zone_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown time zone {name!r}{hint}") from exc


@functools.cache
def _zone_names() -> list[str]:
    return sorted(available_timezones())
