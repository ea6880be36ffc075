"""The vendor-value screen: the one step every mapping's fields pass before the Dial is built.

* An unrendered placeholder (``relay.core.placeholder``) in any field is emptied, whichever
  mapping produced it; so is one the mapping reports it skipped (``MappingResult.unrendered``).
* A ``call_direction`` that neither the source's ``call_directions`` nor the direction table
  knows is kept as sent (the vocabulary is open-ended) but flagged: vendor drift shows.

Each is a ``Finding``: a warning for previews and the log, and a count by source and field
(``relay_placeholder_values_total``, ``relay_unknown_values_total``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from relay.core.normalize import DIRECTIONS, known_direction
from relay.core.placeholder import any_placeholder, unrendered
from relay.obs.logs import mask_phones_in_text

__all__ = ["Finding", "screen_fields"]

_QUOTE_LIMIT = 60


@dataclass(frozen=True)
class Finding:
    """One questionable vendor value: a ``placeholder`` emptied, or an ``unknown`` word."""

    kind: Literal["placeholder", "unknown"]
    field: str
    value: str

    @property
    def warning(self) -> str:
        if self.kind == "placeholder":
            return f"{self.field}: {_quote(self.value)} did not substitute (treated as empty)"
        return (
            f"{self.field}: {_quote(self.value)!r} is not in outboundIQ's vocabulary "
            f"({', '.join(DIRECTIONS)}): sent as is; map it with the source's call_directions"
        )


def _quote(value: str) -> str:
    """A value as a warning shows it: phone numbers in it masked, and shortened."""
    text = mask_phones_in_text(value)
    return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 3] + "..."


def screen_fields(
    fields: Mapping[str, object],
    *,
    reported: Mapping[str, str] | None = None,
    directions: Mapping[str, str] | None = None,
) -> tuple[Mapping[str, object], list[Finding]]:
    """``fields`` with every placeholder emptied (``fields`` itself when there is none), and
    what was found (in field order).

    ``reported``: field → placeholder text the mapping already treated as empty.
    ``directions``: the source's ``call_directions`` (they win over the table).
    """
    screened: Mapping[str, object] = fields
    findings: list[Finding] = []
    if any_placeholder(fields.values()):
        emptied = dict(fields)
        for name, value in fields.items():
            text = unrendered(value)
            if text is not None:
                emptied[name] = ""
                findings.append(Finding("placeholder", name, text))
        screened = emptied
    for name, text in (reported or {}).items():
        if not any(f.field == name for f in findings):
            findings.append(Finding("placeholder", name, text.strip()))
    direction = screened.get("call_direction")
    if (
        isinstance(direction, str)
        and direction.strip()
        and known_direction(direction, directions) is None
    ):
        findings.append(Finding("unknown", "call_direction", " ".join(direction.split())))
    return screened, findings
