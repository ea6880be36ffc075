"""The Dials page: find a dial, then read its timeline (docs/console.md#dials).

``GET /console/dials`` searches the queue's dial history (``DialHistory``: both backends,
the whole cluster on a shared Redis queue) by dial_id, source, time received (``since`` /
``until``: an age such as ``2h`` or a date-time, UTC unless it names an offset) and the last 4
digits of the prospect's number, and lists what it finds, newest first. The search form is
POSTed (a number typed into it never reaches a URL) and answered with a redirect to the
listing, whose URL carries only the last 4 digits. ``GET /console/dials/<source>/<dial_id>``
is the timeline: received, legs coalesced, each attempt with outboundIQ's answer (configured
secrets hidden, phones masked) and how long it took, waits, delivered or dead-lettered,
replayed, purged; then the payload, phones masked. ``relay dial list/show`` print the same
documents (``relay.core.timeline``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from relay.console.session import Session
from relay.console.web import PREFIX, Console, Form, Handler, form_of
from relay.core.sources import configured_secrets
from relay.core.timeline import attempts_of, detail, moment, shown, text_time
from relay.exceptions import QueueError
from relay.queue.models import DialRecord

__all__ = ["LIMIT", "Search", "handler", "timeline"]

#: The most dials a search lists.
LIMIT = 100
_FIELDS = ("dial_id", "source", "since", "until", "last4")


@dataclass
class Search:
    """What the form asked for (as typed) and what it means (``problems`` when it means
    nothing)."""

    dial_id: str = ""
    source: str = ""
    since: str = ""
    until: str = ""
    last4: str = ""

    @classmethod
    def of(cls, values: dict[str, str]) -> Search:
        return cls(**{k: values.get(k, "").strip() for k in _FIELDS})

    @property
    def asked(self) -> bool:
        return any(getattr(self, k) for k in _FIELDS)

    def window(self, now: float) -> tuple[float | None, float | None, list[str]]:
        problems = []
        bounds: list[float | None] = []
        for name in ("since", "until"):
            text = getattr(self, name)
            try:
                bounds.append(moment(text, now=now) if text else None)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
                bounds.append(None)
        if self.last4 and not (len(self.last4) == 4 and self.last4.isdigit()):
            problems.append("number: the last 4 digits of the prospect's number")
        return bounds[0], bounds[1], problems

    def query(self) -> str:
        return urlencode({k: getattr(self, k) for k in _FIELDS if getattr(self, k)})


def last4_of(typed: str) -> str:
    """What the number field keeps: the last 4 digits of what was typed (a whole number
    pasted in is cut to them here, before any URL)."""
    digits = "".join(c for c in typed if c.isdigit())
    return digits[-4:] if len(digits) >= 4 else typed.strip()[:4]


def _row(r: DialRecord) -> dict[str, Any]:
    d = shown(r, [], at=text_time, payload=False)
    d["attempts"], d["last_status"] = attempts_of(d)
    return d


def _matches(r: DialRecord, since: float | None, until: float | None, last4: str) -> bool:
    return (
        (since is None or r.received_at >= since)
        and (until is None or r.received_at < until)
        and (not last4 or r.phone_last4 == last4)
    )


async def _search(
    console: Console, s: Search, now: float
) -> tuple[list[dict[str, Any]], list[str]]:
    since, until, problems = s.window(now)
    if problems or not s.asked:
        return [], problems
    queue = console.runtime.queue
    last4 = s.last4
    try:
        if s.dial_id:
            found = await queue.dial_history(s.dial_id, source=s.source or None)
            records = sorted(
                (r for r in found if _matches(r, since, until, last4)),
                key=lambda r: r.received_at,
                reverse=True,
            )[:LIMIT]
        else:
            records = await queue.list_history(
                source=s.source or None,
                since=since,
                until=until,
                phone_last4=last4 or None,
                limit=LIMIT,
            )
    except QueueError as exc:
        return [], [f"the queue cannot be read: {exc}"]
    return [_row(r) for r in records], []


def handler(console: Console) -> Handler:
    async def page(request: Request, session: Session) -> Response:
        if request.method == "POST":
            form: Form = await form_of(request)
            values = {k: form.first(k) or "" for k in _FIELDS}
            values["last4"] = last4_of(values["last4"])
            query = Search.of(values).query()
            return RedirectResponse(f"{PREFIX}/dials" + (f"?{query}" if query else ""), 303)
        search = Search.of(dict(request.query_params))
        search.last4 = last4_of(search.last4)  # a whole number put in the URL by hand
        now = time.time()
        rows, problems = await _search(console, search, now)
        return console.render(
            request,
            "dials.html",
            session,
            search=search,
            rows=rows,
            problems=problems,
            limit=LIMIT,
            sources=sorted(console.runtime.sources),
            history_off=console.runtime.settings.dial_history_seconds <= 0,
        )

    return page


def timeline(console: Console) -> Handler:
    async def page(request: Request, session: Session) -> Response:
        runtime = console.runtime
        source = request.path_params["source"]
        dial_id = request.path_params["dial_id"]
        problem = None
        try:
            records = await runtime.queue.dial_history(dial_id, source=source)
        except QueueError as exc:
            records, problem = [], f"the queue cannot be read: {exc}"
        secrets = configured_secrets(runtime.settings, runtime.sources)
        dials = [shown(r, secrets, at=text_time) for r in reversed(records)]
        for d in dials:
            payload = d["payload"]
            d["payload_text"] = (
                None
                if payload is None
                else orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
            )
        return console.render(
            request,
            "dial.html",
            session,
            source=source,
            dial_id=dial_id,
            dials=dials,
            detail=detail,
            problem=problem,
            history_off=runtime.settings.dial_history_seconds <= 0,
            status_code=200 if dials or problem else 404,
        )

    return page
