"""``/admin/...``: the operator's routes, behind ``RELAY_ADMIN_TOKEN``. For now one:
``GET /admin/events``, this replica's live events as server-sent events.

Every ``/admin/`` route checks ``Authorization: Bearer <RELAY_ADMIN_TOKEN>`` first
(``admin_refusal``, in constant time): a missing or wrong token is a 401 with
``WWW-Authenticate: Bearer`` (logged as ``admin_unauthorized``, never what was presented); while
no token is set, the routes answer 404 like a route that does not exist.

``/admin/events?source=S&outcome=O`` (each repeatable, or comma-separated; ``outcome`` is an
event's kind, or ``received`` for every intake event) streams ``text/event-stream``: first an
``event: ready`` frame (``{"replica": ...}``: from then on nothing is missed), then one
``data:`` frame per event (``RelayEvent.as_dict``: phones masked), an ``event: missed`` frame
(``{"kind": "missed", "missed": N, "replica": ...}``) when this reader fell more than
``DEFAULT_BUFFER`` events behind and lost some, and a ``: keepalive`` comment every
``KEEPALIVE_SECONDS`` of silence. Frames are written in batches: the events of up to
``GATHER_SECONDS`` after the first one go out in one write. The stream ends
when the client goes or the relay stops. Events of the other replicas of a shared Redis queue
are on the Redis channel (``relay.obs.broadcast``), not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator

import orjson
import structlog
from pydantic import SecretStr
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from relay import __version__
from relay.intake import answers
from relay.intake.runtime import RelayRuntime
from relay.obs.cluster import ClusterFeed
from relay.obs.events import selected_kinds
from relay.obs.feed import EventFeed, Subscription
from relay.obs.sse import KEEPALIVE, frame

__all__ = [
    "ADMIN_EVENTS",
    "KEEPALIVE_SECONDS",
    "admin_events",
    "admin_refusal",
    "events_response",
    "feed_filters",
]

log = structlog.get_logger("relay.intake.admin")

ADMIN_EVENTS = "/admin/events"
#: Seconds of silence before a keep-alive comment (proxies close idle streams; a write also
#: finds a client that went away).
KEEPALIVE_SECONDS = 15.0
#: After the first event of a quiet spell, the stream waits this long for more and writes
#: them in one frame batch: one write per 50 ms instead of one per event on a busy relay.
GATHER_SECONDS = 0.05
_BEARER = (b"www-authenticate", b"Bearer")


def admin_refusal(request: Request, token: SecretStr | None) -> Response | None:
    """The answer refusing ``request`` to an ``/admin/`` route, or None when it carries the
    admin token: 404 while no token is set, 401 without it or with another."""
    if token is None:
        return answers.NO_ROUTE(detail="Not Found").response()
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected):
        return None
    client = request.client.host if request.client else "unknown"
    log.warning("admin_unauthorized", path=request.url.path, client=client)
    return answers.ADMIN_UNAUTHORIZED(_BEARER).response()


def _listed(params: QueryParams, name: str) -> list[str]:
    return [v.strip() for value in params.getlist(name) for v in value.split(",") if v.strip()]


def feed_filters(params: QueryParams) -> tuple[list[str], list[str]]:
    """``source`` and ``outcome`` of a query (each repeatable, or comma-separated);
    ``ValueError`` naming an outcome that is none."""
    outcomes = _listed(params, "outcome")
    selected_kinds(outcomes)
    return _listed(params, "source"), outcomes


async def admin_events(request: Request) -> Response:
    """``GET /admin/events``: this replica's events as they happen (module docstring)."""
    runtime: RelayRuntime = request.state.relay
    refused = admin_refusal(request, runtime.settings.admin_token)
    if refused is not None:
        return refused
    return events_response(request, runtime.events)


def events_response(request: Request, feed: EventFeed, per_second: int | None = None) -> Response:
    """``feed``'s events that ``request``'s query selects (``feed_filters``: a 400 naming an
    unknown outcome), as server-sent events: the stream of ``/admin/events`` (module
    docstring), and of the console's Live page, which takes at most ``per_second`` events of
    one kind a second (the rest counted in ``event: skipped`` frames,
    ``{"kind": "skipped", "skipped": N, "per_second": L, "replica": ...}``). A ``ClusterFeed``
    (every replica's events, from the shared queue's channel) says ``ready`` once its channel
    is followed."""
    try:
        sources, outcomes = feed_filters(request.query_params)
    except ValueError as exc:
        return answers.BAD_FILTER(problem=str(exc)).response()
    client = request.client.host if request.client else "unknown"
    return StreamingResponse(
        _stream(feed, sources, outcomes, client, per_second),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _ready(feed: EventFeed, subscription: Subscription) -> AsyncIterator[bytes]:
    """Keep-alives until a ``ClusterFeed`` follows its channel (at once for a local feed)."""
    if not isinstance(feed, ClusterFeed):
        return
    while not feed.ready.is_set() and not subscription.closed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(feed.ready.wait(), KEEPALIVE_SECONDS)
            return
        yield KEEPALIVE


async def _stream(
    feed: EventFeed,
    sources: list[str],
    outcomes: list[str],
    client: str,
    per_second: int | None,
) -> AsyncIterator[bytes]:
    subscription = feed.subscribe(sources=sources, outcomes=outcomes, per_second=per_second)
    cluster = isinstance(feed, ClusterFeed)
    log.info("events_followed", client=client, sources=sources, outcomes=outcomes, cluster=cluster)
    try:
        async for keepalive in _ready(feed, subscription):
            yield keepalive
        hello = {"replica": feed.replica, "version": __version__, "cluster": cluster}
        yield frame(orjson.dumps(hello), "ready")
        while True:
            items = await subscription.get(within=KEEPALIVE_SECONDS)
            if items is None:
                return
            if not items:
                yield KEEPALIVE
                continue
            if not subscription.closed:  # a busy feed: gather a little, write once
                await asyncio.sleep(GATHER_SECONDS)
                items.extend(subscription.pending())
            yield b"".join(frame(i.line(), i.FRAME) for i in items)
    finally:
        subscription.close()
        log.info("events_unfollowed", client=client)
