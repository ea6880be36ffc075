"""The mapping playground: a vendor request through a source, field by field, with edits.

``GET /console/playground`` shows the form for a source (``?source=``), or a rejected request
loaded by id (``?rejected=``: its source, its stored method, content type, query and body; the
body shown masked, never raw, and read again by id on each run). ``POST /console/playground``
runs the form and renders the whole page (works without JavaScript); ``POST
/console/playground/result`` runs it and answers only the parts that change (the result, the
stanza, the problems beside each edit): the page's script posts the form there as you type.

A run edits the source (``relay.core.playground.edit_source``: ``options``, ``defaults``,
``dispositions`` as YAML; no ``${VAR}`` is read but a secret the page shows as one) and
explains the request (``relay.core.provenance.explain_raw``). Nothing is queued, nothing is
written, no hook metric counts it; each run is one ``console_action`` line (source, status).
Every value the result shows is masked (``relay.obs.logs``); the stanza to paste holds no
secret (``stanza_yaml``).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import Response

from relay.console.session import Session
from relay.console.web import Console, Handler, form_of
from relay.core.dial import DIAL_FIELDS
from relay.core.playground import (
    EDITABLE,
    EditProblem,
    edit_source,
    edit_texts,
    stanza_env,
    stanza_yaml,
    written_stanza,
)
from relay.core.provenance import Explanation, explain_raw
from relay.core.sources import Source
from relay.delivery.resolver import close_mappings
from relay.exceptions import ConfigError, QueueError
from relay.obs.logs import mask_document, mask_phones_in_text
from relay.queue.models import RejectedRecord

__all__ = ["fragment", "handler", "run_form"]

log = structlog.get_logger("relay.console")

#: Content types offered in the page's select (any other can be typed in).
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain")
#: How many of a source's rejected requests are listed (the newest first).
RECENT = 5
#: At most this much of a rejected body is shown (masked).
SHOWN_BODY_CHARS = 20_000


@dataclass
class FieldRow:
    """One Dials field of the result, every value masked."""

    name: str
    value: Any
    raw: Any
    inputs: list[str]
    expression: str | None
    changed_by: str | None
    default: bool
    warnings: list[str]
    errors: list[str]


@dataclass
class Result:
    """An explanation as the page shows it: masked."""

    status: str
    dial: str | None
    detail: str | None
    rows: list[FieldRow]
    errors: list[str]
    warnings: list[str]
    unused: list[str]


@dataclass
class LoadedRejected:
    """A rejected request as the page shows it: masked, read-only."""

    id: str
    received_at: float
    method: str
    content_type: str
    query: str
    body: str
    problems: list[str]


@dataclass
class Run:
    """Everything the page shows for one source and request."""

    sources: list[tuple[str, str, str]]
    source: str | None = None
    method: str = "POST"
    content_type: str = "application/json"
    query: str = ""
    body: str = ""
    texts: dict[str, str] = field(default_factory=lambda: dict.fromkeys(EDITABLE, ""))
    problems: dict[str, list[EditProblem]] = field(default_factory=dict)
    rejected: LoadedRejected | None = None
    recent: list[RejectedRecord] | None = None
    result: Result | None = None
    stanza: str | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def _rows_of(explanation: Explanation) -> Result:
    rows = [
        FieldRow(
            name=t.name,
            value=_masked(t.name, t.value),
            raw=_masked(t.name, t.raw),
            inputs=[mask_phones_in_text(i) for i in t.inputs],
            expression=None if t.expression is None else mask_phones_in_text(t.expression),
            changed_by=t.changed_by,
            default=t.default,
            warnings=[mask_phones_in_text(w) for w in t.warnings],
            errors=[mask_phones_in_text(e) for e in t.errors],
        )
        for t in explanation.fields
    ]
    preview = explanation.preview
    other = [
        f"{e.get('field', '')}: {e.get('problem', '')}"
        for e in preview.errors
        if e.get("field") not in DIAL_FIELDS
    ]
    dial = explanation.dial
    return Result(
        status=explanation.status,
        dial=None if dial is None else json.dumps(mask_document(dial), indent=2),
        detail=None if preview.later is None else mask_phones_in_text(preview.later),
        rows=rows,
        errors=[mask_phones_in_text(e) for e in other],
        warnings=[mask_phones_in_text(w) for w in explanation.general_warnings],
        unused=[mask_phones_in_text(k) for k in preview.unused],
    )


def _masked(name: str, value: Any) -> Any:
    if value is None:
        return None
    shown = mask_document({name: value})[name]
    return shown if isinstance(shown, str) else json.dumps(shown)


def shown_body(record: RejectedRecord) -> str:
    """A stored body as the page shows it: JSON pretty and masked, a form as masked
    ``key = value`` lines, anything else with its phone numbers masked."""
    text = record.body.decode("utf-8", "replace")
    kind = record.content_type.split(";")[0].strip().lower()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if document is not None:
        return json.dumps(mask_document(document), indent=2)[:SHOWN_BODY_CHARS]
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        lines = [f"{k} = {mask_document({k: v})[k]}" for k, v in pairs]
        return mask_phones_in_text("\n".join(lines))[:SHOWN_BODY_CHARS]
    return mask_phones_in_text(text[:SHOWN_BODY_CHARS])


def _loaded(record: RejectedRecord) -> LoadedRejected:
    query = mask_document(dict(record.query))
    return LoadedRejected(
        id=record.id,
        received_at=record.received_at,
        method=record.method,
        content_type=record.content_type,
        query="&".join(f"{k}={v}" for k, v in query.items()),
        body=shown_body(record),
        problems=[
            mask_phones_in_text(f"{p.get('field', '')}: {p.get('problem', '')}")
            for p in record.problems
        ],
    )


def _source_list(sources: dict[str, Source]) -> list[tuple[str, str, str]]:
    return [(name, s.config.mapping, s.config.auth.type) for name, s in sorted(sources.items())]


async def _written(console: Console, name: str, run: Run) -> dict[str, Any] | None:
    """The source's stanza as the sources file writes it (None: no file, or unreadable)."""
    path: Path | None = console.runtime.settings.sources_file
    if path is None:
        return None
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return written_stanza(text, name)
    except (OSError, ConfigError, UnicodeDecodeError):
        run.notes.append(
            "The sources file cannot be read now: the edits start from the running config."
        )
        return None


async def _recent(console: Console, name: str, run: Run) -> list[RejectedRecord] | None:
    try:
        records = await console.runtime.queue.list_rejected(
            source=name, limit=RECENT, newest_first=True
        )
    except QueueError:
        run.notes.append("The rejected requests cannot be read from the queue now.")
        return None
    return records


def _run_edited(
    source: Source,
    texts: dict[str, str],
    request: dict[str, Any],
    written: dict[str, Any] | None,
    mappings_dir: Path | None,
) -> tuple[Explanation | None, str | None, list[EditProblem], Source | None]:
    """Edit, explain, write the stanza (on a worker thread: the mapping is built and run)."""
    edited = edit_source(
        source,
        options=texts["options"],
        defaults=texts["defaults"],
        dispositions=texts["dispositions"],
        mappings_dir=mappings_dir,
        env=stanza_env(written, os.environ),
    )
    if not edited.ok or edited.source is None:
        return None, None, edited.problems, None
    explanation = explain_raw(edited.source, **request)
    return explanation, stanza_yaml(source, edited.edits, written=written), [], edited.source


async def run_form(
    console: Console, values: dict[str, str], *, execute: bool, whole: bool = True
) -> Run:
    """The page for ``values`` (the query or the form): the source, the request, the edits;
    with ``execute``, the result too (nothing queued or written); ``whole``: the source's
    recent rejected requests too (the script's fragment does not show them)."""
    runtime = console.runtime
    sources = runtime.sources
    run = Run(sources=_source_list(sources))
    record: RejectedRecord | None = None
    rejected_id = values.get("rejected", "").strip()
    if rejected_id:
        try:
            record = await runtime.queue.get_rejected(rejected_id)
        except (QueueError, ValueError):
            record = None
        if record is None:
            run.error = "No such rejected request (replayed or purged since?)."
            return run
        run.rejected = _loaded(record)
        name = record.source
    else:
        name = values.get("source", "").strip() or (run.sources[0][0] if run.sources else "")
    source = sources.get(name)
    if source is None:
        run.error = "No source of that name is configured." if name else None
        return run
    run.source = name
    written = await _written(console, name, run)
    if "options" in values:  # a submitted form: its texts
        run.texts = {part: values.get(part, "") for part in EDITABLE}
    else:
        run.texts = edit_texts(source, written)
    if whole:
        run.recent = await _recent(console, name, run)
    run.method = "GET" if values.get("method", "POST").upper() == "GET" else "POST"
    other = values.get("content_type_other", "").strip()
    run.content_type = other or values.get("content_type", "").strip() or "application/json"
    run.query = values.get("query", "")
    run.body = values.get("body", "")
    if record is not None:
        request: dict[str, Any] = {
            "body": record.body,
            "content_type": record.content_type,
            "query": dict(record.query),
            "method": record.method,
        }
        execute = True
    else:
        request = {
            "body": run.body.encode("utf-8"),
            "content_type": run.content_type,
            "query": run.query,
            "method": run.method,
        }
    if not execute:
        return run
    try:
        explanation, stanza, problems, edited = await asyncio.to_thread(
            _run_edited, source, run.texts, request, written, runtime.settings.mappings_dir
        )
    except Exception as exc:  # a mapping's bug: said on the page, never a 500
        log.warning("playground_failed", source=name, error=type(exc).__name__)
        run.error = f"The mapping failed on this request ({type(exc).__name__}): see the logs."
        return run
    if edited is not None:
        await close_mappings([edited])
    for problem in problems:
        part = problem.field.split(".", 1)[0]
        run.problems.setdefault(part if part in EDITABLE else "options", []).append(problem)
    run.stanza = stanza
    run.result = None if explanation is None else _rows_of(explanation)
    return run


def _context(run: Run) -> dict[str, Any]:
    return {"run": run, "content_types": CONTENT_TYPES, "editable": EDITABLE}


def _audit(console: Console, request: Request, session: Session, run: Run) -> None:
    if run.source is None:
        return
    status = run.result.status if run.result is not None else "edit_problems"
    fields: dict[str, Any] = {"source": run.source, "status": status}
    if run.rejected is not None:
        fields["rejected"] = run.rejected.id
    console.audit(request, session, "playground", **fields)


def handler(console: Console) -> Handler:
    """``GET``: the form (a rejected request loaded by id runs at once); ``POST``: the form
    run, the whole page rendered again (no JavaScript needed)."""

    async def page(request: Request, session: Session) -> Response:
        if request.method == "POST":
            form = await form_of(request)
            values = {k: v for k, v in form.pairs if k != "csrf"}
            run = await run_form(console, values, execute=True)
        else:
            run = await run_form(console, dict(request.query_params), execute=False)
        if run.result is not None or run.problems:
            _audit(console, request, session, run)
        status = 404 if run.error and run.source is None else 200
        return console.render(
            request, "playground.html", session, status_code=status, **_context(run)
        )

    return page


def fragment(console: Console) -> Handler:
    """``POST /console/playground/result``: the parts a run changes, for the page's script."""

    async def part(request: Request, session: Session) -> Response:
        form = await form_of(request)
        values = {k: v for k, v in form.pairs if k != "csrf"}
        run = await run_form(console, values, execute=True, whole=False)
        _audit(console, request, session, run)
        status = 404 if run.error and run.source is None else 200
        return console.render(
            request, "playground_parts.html", session, status_code=status, **_context(run)
        )

    return part
