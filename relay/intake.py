"""Intake: ``POST|GET /hooks/<source>``. Authenticate, map, store durably, then answer.

Answers: 202 queued (only after the queue commit is durable), 200 duplicate, 200 ignored
(an event the mapping acknowledges without storing, e.g. a Genesys call start), 404 unknown
source, 403 client address not allowed, 429 over the source's rate limit, 401 failed auth,
408 body not received in time, 413 body too large, 415 other content types or encodings, 422
mapping problems (the raw request is kept in the rejected store), 503 when the queue cannot
store. Header limits (431) and the head timeout are enforced before this (relay.limits,
relay.server).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from relay.auth import verify
from relay.exceptions import AuthError, MappingError, QueueError
from relay.limits import COUNTED, retry_after_header
from relay.mapping import InboundRequest
from relay.network import client_address, in_networks
from relay.pipeline import UnsupportedMediaType, map_request, parse_request, reject, store_mapped
from relay.runtime import RelayRuntime
from relay.sources import Source

__all__ = ["hook", "read_body"]

log = structlog.get_logger("relay.intake")


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


async def read_body(request: Request, limit: int, within: float | None = None) -> bytes:
    """The request body, refusing (``BodyTooLarge``) past ``limit`` bytes without buffering it.

    ``BodyTimeout`` when the whole body has not arrived ``within`` seconds (a slow
    client must not hold the request open).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout from None
    return b"".join(chunks)


#: For answers given before the body was read: the rest of it is not worth waiting for.
_CLOSE = {"Connection": "close"}


def _json(code: int, /, headers: dict[str, str] | None = None, **content: Any) -> Response:
    """A JSON answer rendered by orjson (Starlette's JSONResponse uses the slower stdlib)."""
    return Response(
        orjson.dumps(content), status_code=code, headers=headers, media_type="application/json"
    )


def _admit(
    request: Request, runtime: RelayRuntime, source: Source, kind: str
) -> tuple[str, Response | None]:
    """The client's address (for logs), and the refusal when its address or rate is not ok."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    client = client_address(peer, forwarded, runtime.settings.trusted_proxies)
    shown = str(client or "unknown")
    structlog.contextvars.bind_contextvars(client=shown)
    allowed = source.config.allow_ips
    if allowed is not None and not in_networks(client, allowed):
        log.warning("webhook_forbidden_ip", source=source.name, client=shown, kind=kind)
        return shown, _json(403, status="error", error="client address not allowed")
    if source.config.rate_limit is not None:
        wait = runtime.limiter.acquire(source.name, source.config.rate_limit)
        if wait is not None:
            retry = {"Retry-After": retry_after_header(wait)}
            return shown, _json(429, retry, status="error", error="rate limit exceeded")
    return shown, None


async def authenticate(
    request: Request, runtime: RelayRuntime, kind: str
) -> tuple[Source | None, bytes, Response | None]:
    """Find the source, read the body and check auth; on failure, the response to send."""
    name = request.path_params["source"]
    source = runtime.sources.get(name)
    if source is None:
        return None, b"", _json(404, status="error", error=f"unknown source {name!r}")
    settings = runtime.settings
    shown, refused = _admit(request, runtime, source, kind)
    if refused is not None:
        return source, b"", refused
    try:
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
    except BodyTooLarge:
        return (
            source,
            b"",
            _json(413, _CLOSE, status="error", error=f"body over {settings.max_body_bytes} bytes"),
        )
    except BodyTimeout:
        return source, b"", _json(408, _CLOSE, status="error", error="body not received in time")
    except ClientDisconnect:
        return source, b"", _json(400, status="error", error="client disconnected")
    try:
        verify(
            source.config.auth,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
        )
    except AuthError:
        runtime.metrics.auth_failures.labels(name).inc()
        log.warning("webhook_unauthorized", source=name, client=shown, kind=kind)
        return source, body, _json(401, status="error", error="unauthorized")
    return source, body, None


def inbound(request: Request, source: Source, body: bytes) -> InboundRequest:
    """Parse the request; the source's query secret never reaches the mapping or the store."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaType(f"(Content-Encoding {encoding[:40]!r})")
    query = dict(request.query_params)
    secret_param = source.secret_query_param
    if secret_param:
        query.pop(secret_param, None)
    runtime: RelayRuntime = request.state.relay
    return parse_request(
        request.method,
        request.headers.get("content-type", ""),
        query,
        body,
        max_depth=runtime.settings.max_json_depth,
    )


async def hook(request: Request) -> Response:
    """The webhook endpoint."""
    runtime: RelayRuntime = request.state.relay
    started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    name = request.path_params["source"]
    response, outcome, dial_id = await _handle(request, runtime)
    runtime.metrics.webhooks.labels(name if name in runtime.sources else "_unknown", outcome).inc()
    request.scope[COUNTED] = True
    log.info(
        "webhook_received",
        source=name,
        method=request.method,
        status=response.status_code,
        outcome=outcome,
        dial_id=dial_id,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


async def _handle(request: Request, runtime: RelayRuntime) -> tuple[Response, str, str | None]:
    source, body, failure = await authenticate(request, runtime, "hook")
    if failure is not None:
        outcome = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden_ip",
            404: "unknown_source",
            408: "timeout",
            413: "too_large",
            429: "rate_limited",
        }
        return failure, outcome.get(failure.status_code, "error"), None
    assert source is not None
    try:
        parsed = inbound(request, source, body)
    except UnsupportedMediaType as exc:
        return (
            _json(
                415, status="error", error=f"unsupported content type {exc}; send JSON or a form"
            ),
            "unsupported_media",
            None,
        )
    except MappingError as exc:
        raw = InboundRequest(
            method=request.method,
            content_type=request.headers.get("content-type", ""),
            query={k: v for k, v in request.query_params.items() if k != source.secret_query_param},
            body=body,
            data=None,
        )
        return await _rejected(runtime, source, raw, exc), "rejected", None
    try:
        mapped = map_request(source, parsed)
    except MappingError as exc:
        return await _rejected(runtime, source, parsed, exc), "rejected", None
    if mapped.ignored is not None:
        return _json(200, status="ignored", reason=mapped.ignored), "ignored", None
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
        return (
            _json(503, status="error", error="cannot store right now; retry"),
            "unavailable",
            None,
        )
    if not queued:
        return _json(200, status="duplicate", dial_id=key), "duplicate", key
    if forwarder is not None:
        forwarder.wake()
    return _json(202, status="queued", dial_id=key), "queued", key


async def _rejected(
    runtime: RelayRuntime, source: Source, request: InboundRequest, exc: MappingError
) -> Response:
    errors = [p.as_dict() for p in exc.problems]
    try:
        rejected_id: str | None = await reject(runtime.queue, source.name, request, exc.problems)
    except QueueError as err:
        log.error("rejected_store_failed", source=source.name, error=str(err))
        return _json(503, status="error", error="cannot store right now; retry")
    log.warning(
        "webhook_rejected",
        source=source.name,
        rejected_id=rejected_id,
        fields=[p.field for p in exc.problems],
    )
    return _json(422, status="rejected", rejected_id=rejected_id, errors=errors)
