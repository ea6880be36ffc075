"""Preview: what a request maps to, without queueing anything.

``POST /preview/<source>`` takes exactly what the dialer would send to ``/hooks/<source>``
(same auth, query, body; GET works too) and answers with the Dials payload and warnings (empty
fields, placeholders the sender did not fill, a direction outside outboundIQ's vocabulary, a
guessed time zone), or the problems that would make the hook answer 422, and the input keys
the mapping did not use (``relay.core.usage``). ``relay preview <source> [FILE]`` does the
same from a file: a raw body, or a request file (the golden-fixture format)::

    {"request": {"method": "POST", "content_type": "application/x-www-form-urlencoded",
                 "query": "token=...&campaign_name=Spring", "body": "call_id=300000010270763&..."}}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import orjson

from relay.core.mapping import InboundRequest
from relay.core.normalize import parse_timestamp
from relay.core.pipeline import FORM_TYPE, call_mapping, empty_warnings, finish_mapping
from relay.core.screening import Finding
from relay.core.sources import Source
from relay.core.usage import unused_keys
from relay.exceptions import MappingError

__all__ = [
    "Preview",
    "RawRequest",
    "looks_like_json",
    "preview_request",
    "read_request",
    "timezone_warnings",
]

_PROBE_TZ = timezone(timedelta(hours=5, minutes=30))


@dataclass
class Preview:
    """A preview's outcome: the Dials payload, or the problems; warnings and the input keys
    no field used (``unused``) either way."""

    dial: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    later: str | None = None  # a deferred job or an ignored event: what intake would do
    unused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.dial is not None or self.later is not None

    @property
    def status(self) -> str:
        if self.later is not None:
            return "ignored" if self.later.startswith("ignored") else "deferred"
        return "rejected" if self.dial is None else "ok"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "queued": False}
        if self.later is not None:
            out["detail"] = self.later
        elif self.dial is None:
            out["errors"] = self.errors
        else:
            out["dial"] = self.dial
        out["warnings"] = self.warnings
        out["unused_keys"] = self.unused
        return out


def timezone_warnings(source: Source, fields: dict[str, object]) -> list[str]:
    """A warning when the call time has no offset and the source never set its time zone."""
    value = fields.get("datetime")
    if value is None or value == "" or "timezone" in source.config.model_fields_set:
        return []
    try:
        naive = parse_timestamp(value, UTC) != parse_timestamp(value, _PROBE_TZ)
    except ValueError:
        return []
    if not naive:
        return []
    return [
        "datetime has no UTC offset and the source sets no timezone: read as UTC (a guess); "
        "set the source's `timezone` to the dialer's zone if that is wrong"
    ]


def preview_request(source: Source, request: InboundRequest) -> Preview:
    """Map a parsed request as intake would, collecting every warning; nothing is stored."""
    try:
        result = call_mapping(source, request)
    except MappingError as exc:
        return Preview(dial=None, errors=[p.as_dict() for p in exc.problems])
    unused = unused_keys(source, request, result)
    guessed = timezone_warnings(source, result.fields)
    found: list[Finding] = []
    try:
        mapped = finish_mapping(source, result, on_findings=found.extend)
    except MappingError as exc:
        return Preview(
            dial=None,
            warnings=[*result.warnings, *(f.warning for f in found), *guessed],
            errors=[p.as_dict() for p in exc.problems],
            unused=unused,
        )
    if mapped.dial is None:
        job = mapped.job
        later = (
            f"resolved later: {job.kind} job {job.key} due in {job.delay:g} s; the dial is "
            "built from the vendor's API then"
            if job is not None
            else f"ignored: {mapped.ignored}"
        )
        return Preview(dial=None, warnings=[*mapped.warnings, *guessed], later=later, unused=unused)
    warnings = [*mapped.warnings, *empty_warnings(source, mapped.dial), *guessed]
    return Preview(dial=mapped.dial.model_dump(), warnings=warnings, unused=unused)


# --- request files (``relay preview`` and the golden fixtures) ----------------------------


@dataclass(frozen=True)
class RawRequest:
    """A request as a dialer sends it."""

    method: str
    content_type: str
    query: dict[str, str]
    body: bytes


def _query(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return dict(parse_qsl(value.lstrip("?"), keep_blank_values=True))
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    raise ValueError("request.query must be a query string or an object")


def read_request(
    data: bytes, *, content_type: str | None = None, method: str = "POST", query: str = ""
) -> RawRequest:
    """A request from a file's bytes: a request file (``{"request": {...}}``) or a raw body.

    A raw body is JSON when it parses as JSON, or when it looks like JSON (it starts with
    ``{`` or ``[``: then the preview reports it as malformed JSON, with the position, instead
    of reading it as a form), else a URL-encoded form, unless ``content_type`` says
    otherwise. A UTF-8 byte order mark (an editor's, not the dialer's) is dropped. Raises
    ``ValueError`` for a malformed request file.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        parsed: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("request"), dict):
        spec: dict[str, Any] = parsed["request"]
        body = spec.get("body", "")
        if isinstance(body, str):
            raw = body.encode("utf-8")
            default_type = "application/json" if looks_like_json(raw) else FORM_TYPE
        else:
            raw = orjson.dumps(body)
            default_type = "application/json"
        return RawRequest(
            method=str(spec.get("method") or "POST").upper(),
            content_type=str(spec.get("content_type") or content_type or default_type),
            query={**_query(query), **_query(spec.get("query"))},
            body=raw,
        )
    guessed = "application/json" if parsed is not None or looks_like_json(data) else FORM_TYPE
    return RawRequest(
        method=method.upper(),
        content_type=content_type or (guessed if data.strip() else ""),
        query=_query(query),
        body=data,
    )


def looks_like_json(data: bytes) -> bool:
    """Whether a body starts like a JSON object or array (after spaces): a form's first key
    never starts with ``{`` or ``[`` unencoded."""
    return data.lstrip()[:1] in (b"{", b"[")
