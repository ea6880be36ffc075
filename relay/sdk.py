"""The mapping SDK: everything a vendor mapping or a backfill reader may import from the relay.

The built-in mappings (``mappings/``) import from this module only, and so should a
third-party mapping (an ``outboundiq_relay.mappings`` entry point, or a file in
``RELAY_MAPPINGS_DIR``) or backfill reader (``outboundiq_relay.backfill_readers``). What is
here is kept stable; the modules behind it may move.

A mapping is a factory ``(options: dict) -> Mapping`` whose object has
``map(request: InboundRequest, context: MappingContext) -> MappingResult`` and raises
``MappingError([Problem(field, reason), ...])`` for what it cannot map. See docs/mappings.md.
"""

from __future__ import annotations

from relay.core.backfill import BackfillRecord, csv_rows
from relay.core.dial import DIAL_FIELDS, REQUIRED_FIELDS, only_dial_fields
from relay.core.mapping import (
    DeferredJob,
    ExplainsFields,
    InboundRequest,
    Mapping,
    MappingContext,
    MappingResult,
    PendingJob,
    ResolvingMapping,
    preset_factory,
)
from relay.core.normalize import (
    known_direction,
    normalize_attempts,
    normalize_date,
    normalize_datetime,
    normalize_direction,
    normalize_phone,
    normalize_zip,
    parse_timestamp,
    rename,
)
from relay.core.placeholder import (
    any_placeholder,
    any_placeholder_in_text,
    first_set,
    is_placeholder,
)
from relay.core.retry_after import parse_retry_after
from relay.core.sources import Source
from relay.exceptions import MappingError, Problem, ResolveAuthError, ResolveError

__all__ = [
    "DIAL_FIELDS",
    "REQUIRED_FIELDS",
    "BackfillRecord",
    "DeferredJob",
    "ExplainsFields",
    "InboundRequest",
    "Mapping",
    "MappingContext",
    "MappingError",
    "MappingResult",
    "PendingJob",
    "Problem",
    "ResolveAuthError",
    "ResolveError",
    "ResolvingMapping",
    "Source",
    "any_placeholder",
    "any_placeholder_in_text",
    "csv_rows",
    "first_set",
    "is_placeholder",
    "known_direction",
    "normalize_attempts",
    "normalize_date",
    "normalize_datetime",
    "normalize_direction",
    "normalize_phone",
    "normalize_zip",
    "only_dial_fields",
    "parse_retry_after",
    "parse_timestamp",
    "preset_factory",
    "rename",
]
