"""Why records were rejected, grouped: the same problem on many rows is one reason, counted.

A problem's text often quotes the value it refused (``not a valid phone number (got
******12)``, ``mapping 'acme' failed: KeyError('x')``, ``malformed JSON at line 3, column 9:
…``); ``reason`` drops what depends on the row — a trailing ``(got …)``, quoted literals, a
position, ids — so those rows group under one reason. ``RejectTally`` counts records per
reason in bounded memory (a backfill of millions of rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relay.exceptions import Problem

__all__ = ["OTHER_REASONS", "RejectTally", "reason"]

_GOT = re.compile(r"\s*\(got\b.*\)\s*$", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_POSITION = re.compile(r"\s*(?:at )?line \d+,? column \d+(?: \(char \d+\))?")
_ID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_SPACES = re.compile(r"\s+")

#: Distinct reasons a tally keeps apart; the rest are counted together under this one.
OTHER_REASONS = "(other reasons)"
_MAX_REASONS = 100


def reason(problem: Problem) -> str:
    """``field: problem`` without what depends on the row (the value, a position, an id)."""
    text = _GOT.sub("", problem.problem)
    text = _QUOTED.sub("'…'", text)
    text = _POSITION.sub("", text)
    text = _ID.sub("…", text)
    text = _SPACES.sub(" ", text).strip().rstrip(":,; ")
    return f"{problem.field}: {text}" if text else problem.field


@dataclass
class _Group:
    field: str
    count: int
    first: tuple[str, int]  # (file, row) of the first record with this reason


@dataclass
class RejectTally:
    """Records counted by reason (a record with two problems counts under both), with where
    each reason was first seen; at most ``limit`` reasons, the rest under ``OTHER_REASONS``."""

    limit: int = _MAX_REASONS
    groups: dict[str, _Group] = field(default_factory=dict)

    def add(self, file: str, row: int, problems: Iterable[Problem]) -> None:
        seen: set[str] = set()
        for problem in problems:
            key = reason(problem)
            name = problem.field
            if key not in self.groups and len(self.groups) >= self.limit:
                key, name = OTHER_REASONS, ""
            if key in seen:  # the same reason twice in one record counts once
                continue
            seen.add(key)
            group = self.groups.get(key)
            if group is None:
                self.groups[key] = _Group(name, 1, (file, row))
            else:
                group.count += 1

    def most_common(self) -> list[tuple[str, _Group]]:
        """Reasons by count, largest first (ties: first seen first)."""
        return sorted(self.groups.items(), key=lambda item: -item[1].count)

    def as_list(self) -> list[dict[str, Any]]:
        return [
            {
                "reason": key,
                "field": group.field,
                "count": group.count,
                "first": {"file": group.first[0], "row": group.first[1]},
            }
            for key, group in self.most_common()
        ]
