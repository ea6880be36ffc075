"""The Live page: the relay's events as they happen (docs/console.md#live).

``GET /console/live`` is the page: filters (source, outcome), pause/resume, the newest events
on top (at most ``MAX_ROWS`` kept; ``relay/console/static/live.js`` does the rest).
``GET /console/events?source=S&outcome=O`` is its stream: the same server-sent events as
``/admin/events`` (``relay.intake.admin.events_response``: a ``ready`` frame, one frame per
event with phones masked, ``missed`` frames, keep-alives), at most ``LIVE_PER_SECOND`` events
of each kind a second (``skipped`` frames count the rest), and signed in with the session
cookie (an ``EventSource`` cannot send an ``Authorization`` header): 404 while no admin token
is set, 401 without a session. On a shared Redis queue it follows the cluster's event channel
(``relay.obs.cluster``), so the events of every replica show, whichever one serves the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from relay.console.session import Session
from relay.console.web import Console, Handler, secured
from relay.intake.admin import events_response, feed_filters
from relay.obs.events import FILTER_OUTCOMES

__all__ = ["LIVE_PER_SECOND", "MAX_ROWS", "handler", "stream"]

#: Events the page keeps (older rows go); also what it holds while paused.
MAX_ROWS = 200
#: The most events of one kind the page's stream carries a second: more than anyone reads,
#: and the rest cost the relay nothing (never rendered). The page shows how many it skipped.
LIVE_PER_SECOND = 50


def handler(console: Console) -> Handler:
    async def page(request: Request, session: Session) -> Response:
        runtime = console.runtime
        problem = None
        try:
            sources, outcomes = feed_filters(request.query_params)
        except ValueError as exc:
            sources, outcomes, problem = [], [], str(exc)
        return console.render(
            request,
            "live.html",
            session,
            sources=sorted(runtime.sources),
            outcomes=FILTER_OUTCOMES,
            source=sources[0] if sources else "",
            outcome=outcomes[0] if outcomes else "",
            problem=problem,
            cluster=runtime.cluster_events is not None,
            replica=runtime.events.replica,
            max_rows=MAX_ROWS,
        )

    return page


def stream(console: Console) -> Callable[[Request], Awaitable[Response]]:
    """``GET /console/events``: the live stream, for a signed-in session only."""

    async def endpoint(request: Request) -> Response:
        if console.signer is None:
            return secured(PlainTextResponse("Not Found", status_code=404))
        if console.session_of(request) is None:
            return secured(PlainTextResponse("Sign in first", status_code=401))
        feed = console.runtime.live_events
        return secured(events_response(request, feed, per_second=LIVE_PER_SECOND))

    return endpoint
