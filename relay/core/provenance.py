"""Provenance: where each Dials field of a previewed request came from (the mapping playground).

``explain(source, request)`` previews the request exactly as ``relay.core.preview`` does
(nothing is queued or stored) and adds, per Dials field (``DIAL_FIELDS`` order), a
``FieldTrace``:

* ``inputs``: the input keys that feed the field *for this request*, found by trying, as
  ``relay.core.usage`` finds unused keys: each key is removed in turn and the mapping run
  again; the fields whose mapped value changes are fed by it. A nested object whose removal
  changes a field is searched key by key (``call.from``); lists are taken whole. A fallback
  (``a || b`` with ``a`` set) is not an input. A key without which there is no dial at all
  (Twilio's ``CallStatus``: the request is then ignored) feeds the fields holding its value.
  At most ``MAX_PROBES`` mapping runs.
* ``expression``: what the mapping says produces the field, when it can say
  (``relay.core.mapping.ExplainsFields``: the generic mapping and every preset over it).
* ``raw``: the mapping's value, before the relay normalized it (a placeholder the mapping
  emptied itself: the placeholder); ``value``: the wire value.
* ``changed_by``: the step that turned ``raw`` into ``value`` (``normalize_phone``,
  ``call_directions table``, ``dispositions table``, ``placeholder emptied``...).
* ``default``: whether the source's ``defaults`` filled it; ``warnings`` and ``errors``: the
  preview's warnings and problems that name this field.

Values are the request's own (phone numbers included): a page masks them before showing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from relay.core.dial import DIAL_FIELDS
from relay.core.mapping import ExplainsFields, InboundRequest, MappingResult
from relay.core.normalize import lookup
from relay.core.pipeline import call_mapping, parse_request
from relay.core.preview import Preview, preview_request, timezone_warnings
from relay.core.screening import Finding, screen_fields
from relay.core.sources import Source
from relay.core.usage import MAX_PROBES, KeyPath, probe_request, value_at, without_key
from relay.exceptions import MappingError, Problem, UnsupportedMediaType

__all__ = ["Explanation", "FieldTrace", "explain", "explain_raw"]

#: The normaliser ``relay.core.dial.build_dial`` applies to each field (the others: stripped).
NORMALIZERS: dict[str, str] = {
    "ani": "normalize_phone",
    "prospect_phone": "normalize_phone",
    "datetime": "normalize_datetime",
    "sys_created_date_original": "normalize_date",
    "zip": "normalize_zip",
    "call_direction": "normalize_direction",
    "total_dial_attempts": "normalize_attempts",
    "dial_id": "normalize_dial_id",
}


@dataclass
class FieldTrace:
    """Where one Dials field's value came from.

    ``name``: the Dials field. ``value``: the value sent on the wire (None when no Dial
    resulted). ``inputs``: the input key paths feeding it (dotted for nested keys, in input
    order). ``expression``: the mapping's description of it, when the mapping gives one.
    ``raw``: what the mapping produced (None: nothing; a placeholder it emptied itself: the
    placeholder text). ``changed_by``: the step that changed
    ``raw`` into ``value``, or None when it passed unchanged. ``default``: filled by the
    source's ``defaults``. ``warnings`` / ``errors``: the preview's warnings and problems
    (the 422 reasons) about this field.
    """

    name: str
    value: Any = None
    inputs: list[str] = field(default_factory=list)
    expression: str | None = None
    raw: Any = None
    changed_by: str | None = None
    default: bool = False
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    """A preview (``preview``: dial or errors, ignored/deferred, warnings, unused keys) and a
    ``FieldTrace`` per Dials field (``fields``, ``DIAL_FIELDS`` order); ``general_warnings``:
    the preview's warnings that name no field."""

    preview: Preview
    fields: list[FieldTrace]
    general_warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``ok``, ``rejected``, ``ignored`` or ``deferred`` (as the preview says)."""
        return self.preview.status

    @property
    def dial(self) -> dict[str, Any] | None:
        return self.preview.dial

    def as_dict(self) -> dict[str, Any]:
        """The preview's document (``Preview.as_dict``) with ``fields`` (each trace's
        attributes) and ``general_warnings``: JSON-ready when the request's values are."""
        return {
            **self.preview.as_dict(),
            "fields": [asdict(trace) for trace in self.fields],
            "general_warnings": list(self.general_warnings),
        }

    def field(self, name: str) -> FieldTrace:
        """The trace of Dials field ``name`` (``KeyError`` for another name)."""
        for trace in self.fields:
            if trace.name == name:
                return trace
        raise KeyError(name)


def explain(source: Source, request: InboundRequest) -> Explanation:
    """Preview ``request`` for ``source`` and trace every Dials field (module doc). Pure: no
    queue, no file; the mapping runs at most ``MAX_PROBES`` times beyond the preview's own."""
    preview = preview_request(source, request)
    try:
        result: MappingResult | None = call_mapping(source, request)
    except MappingError:
        result = None
    fields = result.fields if result is not None and result.job is None else {}
    if result is not None and result.ignored is not None:
        fields = {}
    mapping = source.mapping
    described = mapping.field_sources() if isinstance(mapping, ExplainsFields) else {}
    inputs = _inputs(source, request, fields) if fields else {}
    screened, findings = screen_fields(
        fields,
        reported=result.unrendered if result is not None else None,
        directions=source.config.call_directions,
    )
    traces = [
        _trace(source, name, fields, screened, findings, preview.dial) for name in DIAL_FIELDS
    ]
    for trace in traces:
        trace.inputs = inputs.get(trace.name, [])
        trace.expression = described.get(trace.name)
    general = _attach(preview, traces, findings, timezone_warnings(source, fields))
    return Explanation(preview=preview, fields=traces, general_warnings=general)


def explain_raw(
    source: Source,
    *,
    body: bytes,
    content_type: str,
    query: str | Mapping[str, str] = "",
    method: str = "POST",
    max_depth: int | None = None,
) -> Explanation:
    """``explain`` for a request as a dialer sends it (pasted in a page, or a rejected one
    kept for replay): the source's secret removed from the query and body, the query left
    out where the source's auth does not sign it, the body parsed as the hook parses it
    (``parse_request``, with the source's own body format). A body that does not parse, or
    a content type the hook refuses, is a rejected explanation naming ``body`` or
    ``content_type``, never an exception. ``query``: a query string or its parameters."""
    params = (
        dict(parse_qsl(query.lstrip("?"), keep_blank_values=True))
        if isinstance(query, str)
        else dict(query)
    )
    params, body = source.without_secret(params, content_type, body)
    if not source.config.auth.query_is_mapped:
        params = {}
    try:
        request = parse_request(
            method.upper(),
            content_type,
            params,
            body,
            max_depth=max_depth,
            decode=source.body_decoder,
        )
    except MappingError as exc:
        return _unparsed(exc.problems)
    except UnsupportedMediaType as exc:
        reason = f"unsupported content type {exc}: send JSON or a URL-encoded form"
        return _unparsed([Problem("content_type", reason)])
    return explain(source, request)


def _unparsed(problems: list[Problem]) -> Explanation:
    preview = Preview(dial=None, errors=[p.as_dict() for p in problems])
    return Explanation(preview=preview, fields=[FieldTrace(name) for name in DIAL_FIELDS])


def _trace(
    source: Source,
    name: str,
    fields: Mapping[str, object],
    screened: Mapping[str, object],
    findings: list[Finding],
    dial: dict[str, Any] | None,
) -> FieldTrace:
    raw = fields.get(name)
    value = None if dial is None else dial.get(name)
    trace = FieldTrace(name=name, value=value, raw=raw)
    emptied = [f.value for f in findings if f.kind == "placeholder" and f.field == name]
    placeholder = bool(emptied)
    if placeholder and _empty(raw):  # the mapping emptied it itself: show what was sent
        trace.raw = emptied[0]
    basis = screened.get(name)
    defaults = source.config.defaults
    if _empty(basis) and name != "dial_id" and not _empty(defaults.get(name)):
        trace.default = True
        basis = defaults[name]
    if placeholder:
        trace.changed_by = "placeholder emptied"
        if not trace.default:
            return trace
    if dial is None:
        return trace
    if _empty(basis):
        if name == "dial_id":
            trace.changed_by = "synthetic_dial_id (none sent)"
        return trace
    if value == basis and not placeholder:
        return trace
    step = _step(source, name, basis, value)
    trace.changed_by = step if not placeholder else f"placeholder emptied, {step}"
    if step is None:
        trace.changed_by = "placeholder emptied" if placeholder else None
    return trace


def _step(source: Source, name: str, basis: object, value: object) -> str | None:
    """Which of ``build_dial``'s steps turned ``basis`` into ``value`` (None: none did)."""
    text = str(basis).strip() if isinstance(basis, str) else basis
    if value == basis:
        return None
    config = source.config
    if name == "call_direction":
        word = " ".join(str(basis).split())
        if config.call_directions and lookup(config.call_directions, word) is not None:
            return "call_directions table"
        return "normalize_direction"
    if name == "disposition_name":
        if (
            config.dispositions
            and isinstance(text, str)
            and value != text
            and lookup(config.dispositions, text) is not None
        ):
            return "dispositions table"
        return "stripped" if value == text else "normalized"
    normalizer = NORMALIZERS.get(name)
    if normalizer is not None:
        return normalizer
    return "stripped" if value == text else "normalized"


def _empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _attach(
    preview: Preview, traces: list[FieldTrace], findings: list[Finding], guessed: list[str]
) -> list[str]:
    """Each preview warning and problem put beside the field it names; the rest returned."""
    by_name = {trace.name: trace for trace in traces}
    owner: dict[str, str] = {f.warning: f.field for f in findings}
    owner.update(dict.fromkeys(guessed, "datetime"))
    general: list[str] = []
    for warning in preview.warnings:
        name = owner.get(warning) or _named_field(warning)
        if name is None:
            general.append(warning)
        else:
            by_name[name].warnings.append(warning)
    for problem in preview.errors:
        name = problem.get("field", "")
        if name in by_name:
            by_name[name].errors.append(problem.get("problem", ""))
    return general


def _named_field(text: str) -> str | None:
    """The Dials field a warning starts with (``zip is empty``, ``ani: ...``), if any."""
    head = text.split(":", 1)[0].split(" ", 1)[0]
    return head if head in DIAL_FIELDS else None


def _inputs(
    source: Source, request: InboundRequest, fields: Mapping[str, object]
) -> dict[str, list[str]]:
    """Per Dials field, the input key paths whose removal changes the field's mapped value
    (module doc); at most ``MAX_PROBES`` probes."""
    data = request.data
    found: dict[str, list[str]] = {}
    if not isinstance(data, dict) or not data:
        return found
    budget = [MAX_PROBES]

    def search(path: KeyPath) -> set[str]:
        """The fields ``path`` feeds; its own share (what no key inside it explains) noted."""
        if budget[0] <= 0:
            return set()
        budget[0] -= 1
        changed = _changed(source, probe_request(request, without_key(data, path)), fields)
        if changed is None:  # without it, no dial at all: the fields that hold its value
            changed = _holding(value_at(data, path), fields)
        if not changed:
            return changed
        value = value_at(data, path)
        own = set(changed)
        if isinstance(value, dict):
            for key in value:
                own -= search((*path, str(key)))
        for name in sorted(own, key=DIAL_FIELDS.index):
            found.setdefault(name, []).append(".".join(path))
        return changed

    for key in data:
        search((str(key),))
    return found


def _changed(
    source: Source, request: InboundRequest, expected: Mapping[str, object]
) -> set[str] | None:
    """The Dials fields whose mapped value differs from ``expected``; when the mapping now
    fails, the fields its problems name. None when it now ignores or defers the request, or
    fails naming no field: the key decides whether there is a dial at all."""
    try:
        result = call_mapping(source, request)
    except MappingError as exc:
        named = {p.field for p in exc.problems if p.field in DIAL_FIELDS}
        return named or None
    if result.job is not None or result.ignored is not None:
        return None
    got = result.fields
    return {name for name in DIAL_FIELDS if got.get(name) != expected.get(name)}


def _holding(value: object, fields: Mapping[str, object]) -> set[str]:
    """The fields whose mapped value is ``value`` (a text or number; case and spaces
    aside): what a key the request cannot do without feeds (Twilio's ``CallStatus``)."""
    if not isinstance(value, str | int | float) or _empty(value):
        return set()
    wanted = str(value).strip().casefold()
    return {
        name
        for name in DIAL_FIELDS
        if isinstance(fields.get(name), str | int | float)
        and str(fields.get(name)).strip().casefold() == wanted
    }
