"""What the Rejected and Dead letters pages share: groups, filters, selections, replay, purge.

A ``Store`` (``relay.console.rejected``, ``relay.console.dead``) reads its records as ``Row``s
(masked already: phones to their last 4 digits, no secret) and replays or purges them by id.
``routes`` serves, under the store's path:

* ``GET <path>``: the records grouped by reason with counts, filterable by source and
  reason (``?source=&reason=``: query parameters carry no phone and no secret, reasons are
  masked), and the newest matching records with checkboxes;
* ``GET <path>/<id>``: one record (the store's own template);
* ``POST <path>/replay``: replays the ids checked (``scope=selected``, ``id`` fields) or every
  record matching the filter (``scope=matching``), and shows what happened;
* ``POST <path>/purge``: the same selection, but first a confirmation page ("Purge N ...?
  This cannot be undone.") that re-posts the exact ids found with ``confirm=yes``: only
  that second POST deletes, and only those ids.

Every replay and purge is audited (``console_action``: the action, the counts, the ids).
A page reads at most ``SCAN_LIMIT`` records, the newest, and says so when there are more: act
on those, then reload for the older ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from relay.console.session import Session
from relay.console.web import Console, Form, form_of
from relay.core.sources import configured_secrets

__all__ = [
    "SCAN_LIMIT",
    "SHOWN_ROWS",
    "Filter",
    "Outcome",
    "Row",
    "Store",
    "routes",
    "valid_ids",
]

#: Records a page reads (groups, counts, "all matching") at most.
SCAN_LIMIT = 2000
#: Matching records listed on the page (the newest first).
SHOWN_ROWS = 200
#: Ids an audit line names at most (the count is always there).
AUDITED_IDS = 500
#: What a record id looks like in either backend (SQLite: a number; Redis: a stream-like id).
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def valid_ids(values: Sequence[str]) -> list[str]:
    """The well-formed ids of ``values``, each once, in order (anything else is dropped)."""
    return [v for v in dict.fromkeys(values) if _ID.fullmatch(v)]


@dataclass(frozen=True)
class Row:
    """One record as the list shows it, masked: ``reasons`` are its group keys."""

    id: str
    source: str
    received_at: float
    reasons: tuple[str, ...]
    summary: str
    dial_id: str = ""
    status: int | None = None
    at: float | None = None  # a dead letter: when it died


@dataclass(frozen=True)
class Filter:
    """The list's filter: a source and a reason (empty: any)."""

    source: str = ""
    reason: str = ""

    @classmethod
    def of(cls, values: Any) -> Filter:
        return cls(source=(values.get("source") or "").strip(), reason=values.get("reason") or "")

    @classmethod
    def of_form(cls, form: Form) -> Filter:
        return cls(source=(form.first("source") or "").strip(), reason=form.first("reason") or "")

    def matches(self, row: Row) -> bool:
        return (not self.source or row.source == self.source) and (
            not self.reason or self.reason in row.reasons
        )

    @property
    def query(self) -> str:
        """``?source=...&reason=...`` (empty without a filter)."""
        pairs = [(k, v) for k, v in (("source", self.source), ("reason", self.reason)) if v]
        return "?" + urlencode(pairs) if pairs else ""

    def with_reason(self, reason: str) -> Filter:
        return Filter(source=self.source, reason=reason)

    def describe(self) -> str:
        parts = [f"source {self.source}"] if self.source else []
        parts += [f"reason “{self.reason}”"] if self.reason else []
        return ", ".join(parts) or "no filter"


@dataclass(frozen=True)
class Group:
    reason: str
    count: int
    sources: list[tuple[str, int]]


@dataclass
class Outcome:
    """What a replay or purge did, as the outcome page shows it: a headline, counts by name
    (``data-outcome`` on the page), the records left with why, the ids not found."""

    action: str
    headline: str
    counts: dict[str, int] = field(default_factory=dict)
    left: list[tuple[str, str, str]] = field(default_factory=list)  # (id, source, reason)
    missing: list[str] = field(default_factory=list)


class Store:
    """A store of records the console lists, shows, replays and purges (module docstring)."""

    #: URL path under the console, e.g. ``/rejected``; the action name's prefix (``rejected``).
    path = ""
    name = ""
    title = ""
    #: Singular and plural nouns: "rejected request", "rejected requests".
    noun = ""
    nouns = ""
    view_template = ""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def scan(self, source: str | None) -> list[Row]:
        """Up to ``SCAN_LIMIT`` records (of ``source``), the newest first."""
        raise NotImplementedError

    async def rows_of(self, ids: Sequence[str]) -> list[Row]:
        """The records of ``ids`` that are there."""
        raise NotImplementedError

    async def view(self, record_id: str) -> dict[str, Any] | None:
        """The view template's context for one record (None: not there)."""
        raise NotImplementedError

    async def replay(self, ids: Sequence[str]) -> Outcome:
        raise NotImplementedError

    async def purge(self, ids: Sequence[str]) -> int:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """Every secret the relay holds now: hidden wherever a record might echo one."""
        runtime = self.console.runtime
        return configured_secrets(runtime.settings, runtime.sources)

    def counted(self, n: int) -> str:
        return f"{n} {self.noun if n == 1 else self.nouns}"


def _groups(rows: Sequence[Row]) -> list[Group]:
    counts: Counter[str] = Counter()
    by_source: dict[str, Counter[str]] = {}
    for row in rows:
        for reason in row.reasons:
            counts[reason] += 1
            by_source.setdefault(reason, Counter())[row.source] += 1
    return [
        Group(reason, n, sorted(by_source[reason].items(), key=lambda kv: (-kv[1], kv[0])))
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _sources_of(rows: Sequence[Row]) -> str:
    names = sorted({r.source for r in rows})
    if len(names) == 1:
        return f"of source {names[0]}"
    return f"of sources {', '.join(names)}"


def routes(console: Console, store: Store) -> list[Route]:
    """The store's list, view, replay and purge routes (module docstring)."""

    async def listing(store_filter: Filter) -> dict[str, Any]:
        scanned = await store.scan(store_filter.source or None)
        matching = [r for r in scanned if store_filter.matches(r)]
        sources = sorted(set(console.runtime.sources) | {r.source for r in scanned})
        return {
            "store": store,
            "filter": store_filter,
            "groups": _groups(scanned),  # of the source filtered, every reason
            "sources": sources,
            "scanned": len(scanned),
            "capped": len(scanned) >= SCAN_LIMIT,
            "matching": len(matching),
            "rows": matching[:SHOWN_ROWS],
            "scan_limit": SCAN_LIMIT,
        }

    async def list_page(request: Request, session: Session) -> Response:
        context = await listing(Filter.of(request.query_params))
        return console.render(request, "store_list.html", session, **context)

    async def view_page(request: Request, session: Session) -> Response:
        record_id = request.path_params["record_id"]
        context = await store.view(record_id) if valid_ids([record_id]) else None
        if context is None:
            message = f"No {store.noun} {record_id}: replayed or purged already?"
            return message_page(request, session, 404, message, Filter())
        return console.render(request, store.view_template, session, store=store, **context)

    async def selection(form: Form) -> tuple[Filter, list[Row]]:
        """The records a form selects: the checked ids, or every record matching its filter."""
        store_filter = Filter.of_form(form)
        if form.first("scope") == "matching":
            scanned = await store.scan(store_filter.source or None)
            return store_filter, [r for r in scanned if store_filter.matches(r)]
        return store_filter, await store.rows_of(valid_ids(form.all("id")))

    def message_page(
        request: Request, session: Session, status: int, message: str, store_filter: Filter
    ) -> Response:
        return console.render(
            request,
            "store_message.html",
            session,
            status_code=status,
            store=store,
            message=message,
            filter=store_filter,
        )

    def nothing(request: Request, session: Session, store_filter: Filter) -> Response:
        message = f"No {store.noun} selected: check some, or use a filter that matches some."
        return message_page(request, session, 400, message, store_filter)

    def outcome_page(
        request: Request, session: Session, outcome: Outcome, store_filter: Filter
    ) -> Response:
        return console.render(
            request,
            "store_outcome.html",
            session,
            store=store,
            outcome=outcome,
            filter=store_filter,
        )

    def audit(
        request: Request, session: Session, action: str, ids: list[str], **counts: int
    ) -> None:
        console.audit(
            request,
            session,
            f"{store.name}_{action}",
            selected=len(ids),
            **counts,
            ids=ids[:AUDITED_IDS],
            ids_not_named=max(0, len(ids) - AUDITED_IDS),
        )

    async def replay(request: Request, session: Session) -> Response:
        form = await form_of(request)
        if form.first("scope") == "matching":
            store_filter, rows = await selection(form)
            ids = [r.id for r in rows]
        else:  # the ids as checked: one gone meanwhile is reported as not found
            store_filter, ids = Filter.of_form(form), valid_ids(form.all("id"))
        if not ids:
            return nothing(request, session, store_filter)
        outcome = await store.replay(ids)
        audit(request, session, "replay", ids, **outcome.counts, missing=len(outcome.missing))
        return outcome_page(request, session, outcome, store_filter)

    async def purge(request: Request, session: Session) -> Response:
        form = await form_of(request)
        if form.first("confirm") == "yes":
            store_filter, ids = Filter.of_form(form), valid_ids(form.all("id"))
            if not ids:
                return nothing(request, session, store_filter)
            purged = await store.purge(ids)
            audit(request, session, "purge", ids, purged=purged)
            outcome = Outcome(
                action="purge",
                headline=f"Purged {store.counted(purged)}.",
                counts={"purged": purged, "not_found": len(ids) - purged},
            )
            return outcome_page(request, session, outcome, store_filter)
        store_filter, rows = await selection(form)
        if not rows:
            return nothing(request, session, store_filter)
        return console.render(
            request,
            "store_confirm.html",
            session,
            store=store,
            filter=store_filter,
            rows=rows,
            question=f"Purge {store.counted(len(rows))} {_sources_of(rows)}?",
        )

    return [
        Route(store.path, console.page(list_page), methods=["GET"]),
        Route(store.path + "/replay", console.page(replay), methods=["POST"]),
        Route(store.path + "/purge", console.page(purge), methods=["POST"]),
        Route(store.path + "/{record_id}", console.page(view_page), methods=["GET"]),
    ]
