"""IANA time zones by name, as the sources file and the normalizers read them."""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["zone"]


def zone(name: str | None) -> tzinfo:
    """The IANA time zone ``name`` (``UTC`` when empty); ``ValueError`` when unknown."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
