"""How ``relay`` commands print: a table or text for people, one JSON document for programs.

``--json`` (``json_option``) makes a list, show or stats command print exactly one JSON
document on stdout: an object, or for a list an array of objects (never NDJSON, so
``json.loads`` and ``jq`` read it whole). Times are UTC in ISO 8601 (``2026-08-21T16:00:06Z``);
phones are masked and secrets hidden as in the text output (docs/operations.md lists the
shapes).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["iso", "json_option", "print_json", "when"]


def json_option() -> argparse.ArgumentParser:
    """``--json``, for a command's ``parents``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document on stdout instead of text (shapes: docs/operations.md)",
    )
    return options


def when(ts: float) -> str:
    """A time as the text output shows it: ``2026-08-21 16:00:06`` (UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(ts: float) -> str:
    """A time as the JSON output shows it: ``2026-08-21T16:00:06Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def print_json(doc: Any, *, indent: bool = False) -> None:
    """``doc`` as one JSON document and a newline on stdout."""
    option = orjson.OPT_INDENT_2 if indent else 0
    sys.stdout.write(orjson.dumps(doc, option=option).decode() + "\n")
    sys.stdout.flush()
