"""HTTP helpers for tests and fakes."""

from __future__ import annotations

from datetime import UTC, datetime


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (the HTTP-date form of ``Retry-After``)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
