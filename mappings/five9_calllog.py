"""Backfill reader for Five9's **Call Log** report (CSV export), format ``five9-calllog``.

Columns (Five9's standard report, plus those custom reports add): ``CALL ID``, ``TIMESTAMP``
(``Fri, 21 Aug 2026 09:00:06``, no zone: the report's time zone, i.e. the source's
``timezone`` or ``relay backfill --timezone``), ``CAMPAIGN``, ``CALL TYPE``, ``AGENT NAME``,
``DISPOSITION``, ``ANI``, ``DNIS``, ``SKILL``, ``LIST NAME``, ``DIAL ATTEMPTS``.

The report has one row per call *leg*; legs share the ``CALL ID``. Consecutive legs of a call
become one record: the first leg gives the numbers, time, campaign and call type; the last
non-empty disposition, agent and skill win (the leg that ended the call dispositioned it).
Each record is handed to the source's Five9 mapping under the parameter names that source
uses, so it maps exactly like a live Web Connector call.
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
_LAST_WINS = frozenset({"disposition_name", "agent_name", "skill_name"})


def _params(row: dict[str, str]) -> dict[str, str]:
    upper = {k.upper(): v for k, v in row.items()}
    params = {param: upper.get(column, "") for column, param in COLUMNS.items()}
    if not params["start_timestamp"] and upper.get("DATE") and upper.get("TIME"):
        params["start_timestamp"] = f"{upper['DATE']} {upper['TIME']}"
    return params


def _merge(call: dict[str, str], leg: dict[str, str]) -> None:
    for name, value in leg.items():
        if value and (name in _LAST_WINS or not call.get(name)):
            call[name] = value


def read_call_log(path: Path, stream: Any, source: Source) -> Iterator[BackfillRecord]:
    """One record per call (legs merged), keyed by the source's Five9 parameter names."""
    mapping = source.mapping
    names = mapping.names if isinstance(mapping, Five9Mapping) else {n: n for n in DEFAULT_NAMES}
    current: dict[str, str] | None = None
    first_line = 0

    def record() -> BackfillRecord:
        assert current is not None
        data = {names[k]: v for k, v in current.items()}
        return BackfillRecord(path.name, first_line, data, orjson.dumps(data))

    for line, row in csv_rows(stream):
        leg = _params(row)
        if current is not None and leg["call_id"] and leg["call_id"] == current["call_id"]:
            _merge(current, leg)
            continue
        if current is not None:
            yield record()
        current, first_line = leg, line
    if current is not None:
        yield record()
