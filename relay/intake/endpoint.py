"""Intake: ``POST|GET /hooks/<source>``. Authenticate, map, store durably, then answer.

Answers: 202 queued (only after the queue commit is durable), 200 duplicate, 200 ignored
(an event the mapping acknowledges without storing, e.g. a Genesys call start), 404 unknown
source, 403 client address not allowed, 429 over the source's rate limit, 401 failed auth,
408 body not received in time, 413 body too large, 415 other content types or encodings, 422
mapping problems (the raw request is kept in the rejected store), 431 too many or too large
headers, 500 a relay bug (logged, counted), 503 when the queue cannot store. The request head
timeout is enforced before this (relay.intake.server).

This is the relay's hot path, so the hook is a plain ASGI endpoint (``HookEndpoint``) that
``RelayApp`` calls before Starlette's middleware and router: it reads the ASGI scope and
sends its answer itself, with no ``Request``/``Response`` objects on the way
(docs/benchmarks.md has the numbers). Everything else the relay serves goes through Starlette.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.types import Receive, Scope, Send

from relay.config.auth import verify
from relay.config.network import client_address, in_networks
from relay.core.mapping import InboundRequest
from relay.core.pipeline import (
    UnsupportedMediaType,
    map_request,
    parse_request,
    reject,
    store_mapped,
)
from relay.core.sources import Source
from relay.exceptions import AuthError, MappingError, QueueError
from relay.intake.guard import COUNTED, header_problem, outcome_of, retry_after_header
from relay.intake.runtime import RelayRuntime
from relay.obs.logs import info_line

__all__ = ["HOOK_PREFIX", "Answer", "HookEndpoint", "Incoming", "authenticate", "read_body"]

HOOK_PREFIX = "/hooks/"

log = structlog.get_logger("relay.intake.endpoint")


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class ClientGone(Exception):
    pass


class Answer:
    """A JSON answer: status, body and extra headers (rendered by orjson)."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, /, headers: dict[str, str] | None = None, **content: Any
    ) -> None:
        self.status = status
        self.body = orjson.dumps(content)
        self.headers = headers

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.headers:
            out.extend((k.lower().encode(), v.encode()) for k, v in self.headers.items())
        return out

    async def send(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.raw_headers()}
        )
        await send({"type": "http.response.body", "body": self.body})


#: For answers given before the body was read: the rest of it is not worth waiting for.
_CLOSE = {"Connection": "close"}


class Incoming:
    """A request as the intake reads it, straight from the ASGI scope.

    ``headers`` has the lower-case names ASGI servers give (a repeated header: its last value).
    """

    __slots__ = ("_query", "client", "headers", "method", "peer", "query_string", "raw_headers")

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.raw_headers}
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        peer = scope.get("client")
        self.peer: str | None = peer[0] if peer else None
        self.client = "unknown"
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (a repeated one: its last value)."""
        if self._query is None:
            qs = self.query_string
            self._query = dict(parse_qsl(qs, keep_blank_values=True)) if qs else {}
        return self._query

    def forwarded_for(self) -> list[str]:
        return [v.decode("latin-1") for k, v in self.raw_headers if k == b"x-forwarded-for"]


async def read_body(
    receive: Receive, declared: str | None, limit: int, within: float | None = None
) -> bytes:
    """The request body, refusing (``BodyTooLarge``) past ``limit`` bytes without buffering it.

    ``BodyTimeout`` when the whole body has not arrived ``within`` seconds (a slow client must
    not hold the request open); ``ClientGone`` when the client disconnected first.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    task = asyncio.current_task()
    expired = False
    timer = None
    if within is not None and task is not None:

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        # a bare timer, not asyncio.timeout(): this runs once per webhook
        timer = asyncio.get_running_loop().call_later(within, expire)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if expired and task is not None and task.uncancel() == 0:
            raise BodyTimeout from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _admit(incoming: Incoming, runtime: RelayRuntime, source: Source, kind: str) -> Answer | None:
    """Who the client is (``incoming.client``), and the refusal when its address or rate is
    not ok."""
    trusted = runtime.settings.trusted_proxies
    allowed = source.config.allow_ips
    if allowed is None and not trusted:  # the common case: nothing to parse
        incoming.client = incoming.peer or "unknown"
    else:
        address = client_address(incoming.peer, incoming.forwarded_for(), trusted)
        incoming.client = str(address or "unknown")
        if allowed is not None and not in_networks(address, allowed):
            log.warning(
                "webhook_forbidden_ip", source=source.name, client=incoming.client, kind=kind
            )
            return Answer(403, status="error", error="client address not allowed")
    if source.config.rate_limit is not None:
        wait = runtime.limiter.acquire(source.name, source.config.rate_limit)
        if wait is not None:
            retry = {"Retry-After": retry_after_header(wait)}
            return Answer(429, retry, status="error", error="rate limit exceeded")
    return None


async def authenticate(
    incoming: Incoming, receive: Receive, runtime: RelayRuntime, name: str, kind: str
) -> tuple[Source | None, bytes, Answer | None]:
    """Find the source, read the body and check auth; on failure, the answer to send."""
    source = runtime.sources.get(name)
    if source is None:
        return None, b"", Answer(404, status="error", error=f"unknown source {name!r}")
    settings = runtime.settings
    refused = _admit(incoming, runtime, source, kind)
    if refused is not None:
        return source, b"", refused
    try:
        body = await read_body(
            receive,
            incoming.headers.get("content-length"),
            settings.max_body_bytes,
            settings.body_timeout_seconds,
        )
    except BodyTooLarge:
        limit = settings.max_body_bytes
        return source, b"", Answer(413, _CLOSE, status="error", error=f"body over {limit} bytes")
    except BodyTimeout:
        return source, b"", Answer(408, _CLOSE, status="error", error="body not received in time")
    except ClientGone:
        return source, b"", Answer(400, status="error", error="client disconnected")
    try:
        verify(source.config.auth, headers=incoming.headers, query=incoming.query, body=body)
    except AuthError:
        runtime.metrics.auth_failures.labels(name).inc()
        log.warning("webhook_unauthorized", source=name, client=incoming.client, kind=kind)
        return source, body, Answer(401, status="error", error="unauthorized")
    return source, body, None


def mapping_query(incoming: Incoming, source: Source) -> dict[str, str]:
    """The query parameters a mapping sees: never the source's query secret."""
    query = incoming.query
    secret_param = source.secret_query_param
    if secret_param and secret_param in query:
        return {k: v for k, v in query.items() if k != secret_param}
    return query


def inbound(
    incoming: Incoming, source: Source, body: bytes, runtime: RelayRuntime
) -> InboundRequest:
    """Parse the request; the source's query secret never reaches the mapping or the store."""
    encoding = incoming.headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType(f"(Content-Encoding {encoding.strip().lower()[:40]!r})")
    return parse_request(
        incoming.method,
        incoming.headers.get("content-type", ""),
        mapping_query(incoming, source),
        body,
        max_depth=runtime.settings.max_json_depth,
    )


#: The outcome label of each refusal ``authenticate`` can give.
_REFUSALS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden_ip",
    404: "unknown_source",
    408: "timeout",
    413: "too_large",
    429: "rate_limited",
}


class HookEndpoint:
    """``/hooks/<source>`` as a plain ASGI endpoint: ``await endpoint(scope, receive, send,
    name)``, or as a Starlette route's app (the name from the path parameters). Every answer
    is counted in ``relay_webhooks_total`` and logged once (``webhook_received``, the
    canonical line; ``duration_ms`` is the time to decide it), a crash included, and then
    sent."""

    def __init__(self, runtime: RelayRuntime) -> None:
        self._runtime = runtime
        # a concrete logger: binding the module's lazy proxy on every call is measurable here
        self._log = log.bind()

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, name: str | None = None
    ) -> None:
        if name is None:
            name = str(scope["path_params"]["source"])
        runtime = self._runtime
        started = time.perf_counter()
        incoming = Incoming(scope)
        dial_id: str | None = None
        try:
            problem = header_problem(incoming.raw_headers, runtime.settings)
            if problem is not None:
                answer = Answer(431, _CLOSE, status="error", error=problem)
                outcome = outcome_of(431)
            else:
                answer, outcome, dial_id = await _handle(incoming, receive, runtime, name)
        except Exception:
            self._log.exception("webhook_failed", source=name, client=incoming.client)
            answer = Answer(500, status="error", error="internal error")
            outcome = "error"
        scope[COUNTED] = True
        runtime.metrics.webhook_outcome(name if name in runtime.sources else "_unknown", outcome)
        info_line(
            self._log,
            "webhook_received",
            {
                "source": name,
                "method": incoming.method,
                "status": answer.status,
                "outcome": outcome,
                "dial_id": dial_id,
                "client": incoming.client,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        await answer.send(send)


async def _handle(
    incoming: Incoming, receive: Receive, runtime: RelayRuntime, name: str
) -> tuple[Answer, str, str | None]:
    source, body, failure = await authenticate(incoming, receive, runtime, name, "hook")
    if failure is not None:
        return failure, _REFUSALS.get(failure.status, "error"), None
    assert source is not None
    try:
        parsed = inbound(incoming, source, body, runtime)
    except UnsupportedMediaType as exc:
        error = f"unsupported content type {exc}; send JSON or a form"
        return Answer(415, status="error", error=error), "unsupported_media", None
    except MappingError as exc:
        raw = InboundRequest(
            method=incoming.method,
            content_type=incoming.headers.get("content-type", ""),
            query=mapping_query(incoming, source),
            body=body,
            data=None,
        )
        return await _rejected(runtime, source, raw, exc, incoming.client), "rejected", None
    try:
        mapped = map_request(source, parsed)
    except MappingError as exc:
        return await _rejected(runtime, source, parsed, exc, incoming.client), "rejected", None
    if mapped.ignored is not None:
        return Answer(200, status="ignored", reason=mapped.ignored), "ignored", None
    forwarder = runtime.forwarder
    try:
        queued, key = await store_mapped(
            runtime.queue,
            source,
            mapped,
            dedupe_seconds=runtime.settings.dedupe_window_seconds,
            due_at=forwarder.hold_until(source.name) if forwarder else None,
        )
    except QueueError as exc:
        log.error("queue_store_failed", source=source.name, error=str(exc))
        answer = Answer(503, status="error", error="cannot store right now; retry")
        return answer, "unavailable", None
    if not queued:
        return Answer(200, status="duplicate", dial_id=key), "duplicate", key
    if forwarder is not None:
        forwarder.queued()
    return Answer(202, status="queued", dial_id=key), "queued", key


async def _rejected(
    runtime: RelayRuntime,
    source: Source,
    request: InboundRequest,
    exc: MappingError,
    client: str,
) -> Answer:
    errors = [p.as_dict() for p in exc.problems]
    try:
        rejected_id: str | None = await reject(runtime.queue, source.name, request, exc.problems)
    except QueueError as err:
        log.error("rejected_store_failed", source=source.name, error=str(err))
        return Answer(503, status="error", error="cannot store right now; retry")
    log.warning(
        "webhook_rejected",
        source=source.name,
        rejected_id=rejected_id,
        fields=[p.field for p in exc.problems],
        client=client,
    )
    return Answer(422, status="rejected", rejected_id=rejected_id, errors=errors)
