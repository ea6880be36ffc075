"""Backfill reader for Genesys Cloud analytics conversation details, format ``genesys-details``.

Takes the JSON of a conversation details query (``POST /api/v2/analytics/conversations/
details/query``) or of a details job's results (``GET .../details/jobs/{id}/results``): an
object with ``conversations[]``. The file is streamed (ijson), so its size does not matter.
Each conversation goes to the source's ``genesys`` mapping, which queues it to be resolved
with the same lookups as live events (the record already holds the call; only ids are named).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ijson
import orjson

from relay.sdk import BackfillRecord, Source, normalize_datetime

__all__ = ["read_details"]


def _plain(value: Any) -> Any:
    """ijson's Decimals back to JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_details(path: Path, stream: Any, _source: Source) -> Iterator[BackfillRecord]:
    """One record per conversation of ``conversations[]``."""
    for index, conversation in enumerate(ijson.items(stream, "conversations.item"), start=1):
        data = _plain(conversation)
        if not isinstance(data, dict):
            data = {"__not_an_object__": data}
        when = None
        start = data.get("conversationStart")
        if start:
            try:
                when = normalize_datetime(start)
            except ValueError:
                when = None
        yield BackfillRecord(path.name, index, data, orjson.dumps(data), when=when)
