"""From a parsed request to a stored dial: the steps intake, preview, replay and backfill share.

1. ``parse_request``: the raw request (method, content type, query, body) as an
   ``InboundRequest``; 415 for a body that is neither JSON nor a form.
2. ``call_mapping``: the source's (vendor) mapping on it; a mapping's crash is a
   ``MappingError``, never a 500.
3. ``finish_mapping``: the mapping's result normalized into a ``Dial`` (``dial_from_fields``:
   the vendor-value screen of ``relay.core.screening``, then ``build_dial``), or its deferred
   job, or the reason it is ignored: a ``Mapped``.
   ``map_request`` is steps 2 and 3, logging the mapping's warnings and the screen's findings.
4. ``store_mapped``: the ``Mapped`` stored durably (dedupe by key), or merged into the held
   dial of its call when the source coalesces legs (``relay.core.legs``). When steps 2-3
   raised, ``keep_rejected`` keeps the raw request for replay after a fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog

from relay.core.dial import Dial, build_dial
from relay.core.legs import merge_payloads
from relay.core.mapping import DeferredJob, InboundRequest, MappingResult
from relay.core.normalize import MAX_DIAL_ID_LENGTH
from relay.core.screening import Finding, screen_fields
from relay.core.sources import Source
from relay.exceptions import MappingError, Problem, UnsupportedMediaType
from relay.queue.base import DialQueue, LegOutcome, NewDial, RejectedRecord

__all__ = [
    "BodyDecoder",
    "FindingsHook",
    "Mapped",
    "call_mapping",
    "dial_from_fields",
    "empty_warnings",
    "finish_mapping",
    "json_too_deep",
    "keep_rejected",
    "malformed_json",
    "map_request",
    "media_type",
    "parse_request",
    "store_mapped",
]

log = structlog.get_logger("relay.core.pipeline")

JSON_TYPES = ("application/json",)
FORM_TYPE = "application/x-www-form-urlencoded"


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def malformed_json(exc: orjson.JSONDecodeError) -> str:
    """``malformed JSON at line 3, column 9: trailing comma is not allowed``."""
    return f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"


def parse_request(
    method: str,
    content_type: str,
    query: dict[str, str],
    body: bytes,
    *,
    max_depth: int | None = None,
    decode: BodyDecoder | None = None,
) -> InboundRequest:
    """Parse a raw request the way intake does (also used to replay a rejected one).

    ``decode``: the source's own body format (``Source.body_decoder``: a JWT's claims), used
    whatever the content type. Raises ``UnsupportedMediaType`` for other bodies and
    ``MappingError`` for a body that does not parse, or whose JSON nests deeper than
    ``max_depth``.
    """
    media = media_type(content_type)
    form: dict[str, str] = {}
    data: Any
    if decode is not None:
        data = decode(body)
        if max_depth is not None and json_too_deep(data, max_depth):
            raise MappingError([Problem("body", f"JSON nested deeper than {max_depth} levels")])
    elif not body or body.isspace():
        data = dict(query)
    elif _is_json(media):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MappingError([Problem("body", malformed_json(exc))]) from None
        if max_depth is not None and _may_nest(body, max_depth) and json_too_deep(data, max_depth):
            raise MappingError([Problem("body", f"JSON nested deeper than {max_depth} levels")])
        if query and isinstance(data, dict):
            data = {**query, **data}
    elif media == FORM_TYPE:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise MappingError([Problem("body", "form body is not valid UTF-8")]) from None
        form = dict(parse_qsl(text, keep_blank_values=True))
        data = {**query, **form}
    else:
        raise UnsupportedMediaType(media or "(none)")
    return InboundRequest.parsed(method, media, dict(query) if query else {}, body, data, form)


#: A source's own body format: the raw body → the request's data (``MappingError`` if not).
BodyDecoder = Callable[[bytes], Any]

#: Told the screen's findings of a request (before its Dial is built, so a 422 counts too).
FindingsHook = Callable[[list[Finding]], None]


@dataclass
class Mapped:
    """A mapped request: a ``dial``, or a ``job`` to resolve later, or ``ignored`` (why).

    ``warnings`` are the mapping's own and the screen's (``findings``, structured).
    """

    dial: Dial | None
    warnings: list[str] = field(default_factory=list)
    job: DeferredJob | None = None
    ignored: str | None = None
    findings: list[Finding] = field(default_factory=list)


def call_mapping(source: Source, request: InboundRequest) -> MappingResult:
    """The source's mapping on ``request``; a mapping bug becomes a ``MappingError``."""
    try:
        return source.mapping.map(request, source.context)
    except MappingError:
        raise
    except Exception as exc:  # a mapping bug must not become a 500 or lose the request
        raise MappingError(
            [Problem("mapping", f"mapping {source.config.mapping!r} failed: {exc!r}")]
        ) from exc


def dial_from_fields(
    source: Source,
    fields: Mapping[str, object],
    *,
    unrendered: Mapping[str, str] | None = None,
    on_findings: FindingsHook | None = None,
) -> Dial:
    """Screen mapped ``fields`` (placeholders emptied, unknown directions flagged: every path
    to a Dial passes here), then build the Dial with the source's zone, defaults, direction
    and disposition tables. ``unrendered``: the placeholders the mapping skipped itself;
    ``on_findings`` is told what the screen found, before the Dial is built."""
    config = source.config
    screened, findings = screen_fields(
        fields, reported=unrendered, directions=config.call_directions
    )
    if findings and on_findings is not None:
        on_findings(findings)
    return build_dial(
        screened,
        source=source.name,
        tz=source.tz,
        defaults=config.defaults,
        directions=config.call_directions,
        dispositions=config.dispositions,
    )


def finish_mapping(
    source: Source, result: MappingResult, *, on_findings: FindingsHook | None = None
) -> Mapped:
    """Normalize a mapping's result into the Dial (or pass its job / ignore on)."""
    if result.ignored is not None or result.job is not None:
        if result.job is not None and (result.job.kind == "dial" or not result.job.key):
            raise MappingError([Problem("mapping", "a deferred job needs a kind and a key")])
        if result.job is not None and len(result.job.key) > MAX_DIAL_ID_LENGTH:  # its dial_id
            reason = f"the job's key is longer than {MAX_DIAL_ID_LENGTH} characters"
            raise MappingError([Problem("dial_id", reason)])
        return Mapped(None, list(result.warnings), job=result.job, ignored=result.ignored)
    found: list[Finding] = []

    def observe(findings: list[Finding]) -> None:
        found.extend(findings)
        if on_findings is not None:
            on_findings(findings)

    dial = dial_from_fields(
        source, result.fields, unrendered=result.unrendered, on_findings=observe
    )
    if not found:
        return Mapped(dial=dial, warnings=list(result.warnings))
    warnings = [*result.warnings, *(f.warning for f in found)]
    return Mapped(dial=dial, warnings=warnings, findings=found)


def empty_warnings(source: Source, dial: Dial) -> list[str]:
    """A warning for every Dials field left empty without a source default (preview)."""
    defaults = source.config.defaults
    return [
        f"{name} is empty"
        for name, value in dial.__dict__.items()
        if value == "" and name not in defaults
    ]


def map_request(
    source: Source, request: InboundRequest, *, on_findings: FindingsHook | None = None
) -> Mapped:
    """Run the source's mapping and build the Dial; ``MappingError`` lists every problem.

    The mapping's own warnings and the screen's findings (placeholders emptied, unknown
    directions) are logged, in one ``mapping_warnings`` line, whether or not a Dial results.
    """
    result = call_mapping(source, request)
    found: list[Finding] = []

    def observe(findings: list[Finding]) -> None:
        found.extend(findings)
        if on_findings is not None:
            on_findings(findings)

    try:
        return finish_mapping(source, result, on_findings=observe)
    finally:
        if result.warnings or found:
            warnings = [*result.warnings, *(f.warning for f in found)]
            log.warning("mapping_warnings", source=source.name, warnings=warnings)


async def store_mapped(
    queue: DialQueue,
    source: Source,
    mapped: Mapped,
    *,
    dedupe_seconds: float,
    due_at: float | None = None,
    now: float | None = None,
    lane: int = 0,
    coalesce: bool = True,
) -> tuple[LegOutcome, str]:
    """Store a mapped dial, or its deferred job, durably: (what happened, key).

    ``"queued"``: stored; ``"duplicate"``: the key was already accepted within
    ``dedupe_seconds``. When the source coalesces the legs of a call (``coalesce_seconds``;
    ``coalesce`` False turns it off, e.g. for a backfill that merged them itself) a dial is
    held for that window after its first leg, and a later leg within it is merged into it
    (``relay.core.legs``): ``"coalesced"``.
    """
    received = time.time() if now is None else now
    dial = mapped.dial
    if dial is not None:
        new = NewDial(
            source=source.name,
            dial_id=dial.dial_id,
            payload=dial.to_wire(),
            received_at=received,
            lane=lane,
            due_at=due_at,
        )
        window = source.coalesce_seconds if coalesce else 0.0
        if window > 0:
            outcome = await queue.coalesce(new, dedupe_seconds, window=window, merge=merge_payloads)
            return outcome, dial.dial_id
        stored = await queue.enqueue(new, dedupe_seconds)
        return ("queued" if stored else "duplicate"), dial.dial_id
    job = mapped.job
    assert job is not None, "an ignored request is not stored"
    stored = await queue.enqueue(
        NewDial(
            source=source.name,
            dial_id=job.key,
            payload=job.payload,
            received_at=received,
            due_at=max(received + job.delay, due_at or 0.0),
            kind=job.kind,
            lane=lane,
        ),
        dedupe_seconds,
    )
    return ("queued" if stored else "duplicate"), job.key


async def keep_rejected(
    queue: DialQueue, source: str, request: InboundRequest, problems: list[Problem]
) -> str:
    """Keep a request that could not be mapped, so it can be replayed after a fix."""
    return await queue.add_rejected(
        RejectedRecord(
            id="",
            source=source,
            received_at=time.time(),
            method=request.method,
            content_type=request.content_type,
            query=request.query,
            body=request.body,
            problems=[p.as_dict() for p in problems],
        )
    )


def _may_nest(body: bytes, limit: int) -> bool:
    """Whether a JSON text may nest deeper than ``limit``: not unless it has more than
    ``limit`` opening brackets (each level opens one; a bracket inside a string only adds
    to the count). Two C-speed counts spare the usual flat webhook a walk of its values."""
    return body.count(b"{") + body.count(b"[") > limit


def json_too_deep(value: object, limit: int) -> bool:
    """Whether a parsed JSON value nests objects/arrays deeper than ``limit`` (no recursion)."""
    if type(value) is dict and limit >= 1:  # a flat object, the usual webhook: one pass
        for child in value.values():
            if type(child) is dict or type(child) is list:
                break
        else:
            return False
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
