"""Backfill reader for Five9's **Call Log** report (CSV export), format ``five9-calllog``.

Columns (Five9's standard report, plus those custom reports add): ``CALL ID``, ``TIMESTAMP``
(``Fri, 21 Aug 2026 09:00:06``, no zone: the report's time zone, i.e. the source's
``timezone`` or ``relay backfill --timezone``), ``CAMPAIGN``, ``CALL TYPE``, ``AGENT NAME``,
``DISPOSITION``, ``ANI``, ``DNIS``, ``SKILL``, ``LIST NAME``, ``DIAL ATTEMPTS``.

The report has one row per call *leg*; legs share the ``CALL ID``. Each row becomes a record,
handed to the source's Five9 mapping under the parameter names that source uses, so it maps
exactly like a live Web Connector call, one per leg. The backfill then merges consecutive legs
of a call into one dial with the rule live legs follow (``relay.core.legs``: the first leg's
numbers, time, campaign and call type; the last non-empty disposition, agent and skill).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mappings.five9 import DEFAULT_NAMES, Five9Mapping
from relay.sdk import BackfillRecord, Source, csv_rows

__all__ = ["COLUMNS", "read_call_log"]

#: Report column → the Five9 mapping's parameter (default name).
COLUMNS: dict[str, str] = {
    "CALL ID": "call_id",
    "TIMESTAMP": "start_timestamp",
    "CAMPAIGN": "campaign_name",
    "CALL TYPE": "type_name",
    "AGENT NAME": "agent_name",
    "DISPOSITION": "disposition_name",
    "ANI": "ani",
    "DNIS": "dnis",
    "SKILL": "skill_name",
    "LIST NAME": "lead_source",
    "DIAL ATTEMPTS": "attempts",
}


def _params(row: dict[str, str]) -> dict[str, str]:
    upper = {k.upper(): v for k, v in row.items()}
    params = {param: upper.get(column, "") for column, param in COLUMNS.items()}
    if not params["start_timestamp"] and upper.get("DATE") and upper.get("TIME"):
        params["start_timestamp"] = f"{upper['DATE']} {upper['TIME']}"
    return params


def read_call_log(path: Path, stream: Any, source: Source) -> Iterator[BackfillRecord]:
    """One record per row (a leg), keyed by the source's Five9 parameter names."""
    mapping = source.mapping
    names = mapping.names if isinstance(mapping, Five9Mapping) else {n: n for n in DEFAULT_NAMES}
    for line, row in csv_rows(stream):
        data = {names[k]: v for k, v in _params(row).items()}
        yield BackfillRecord(path.name, line, data, orjson.dumps(data))
