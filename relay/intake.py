"""Intake: ``POST|GET /hooks/<source>``. Authenticate, map, store durably, then answer.

Answers: 202 queued (only after the queue commit is durable), 200 duplicate, 404 unknown
source, 401 failed auth, 413 body too large, 415 other content types, 422 mapping problems
(the raw request is kept in the rejected store), 503 when the queue cannot store.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import Response

from relay.auth import verify
from relay.exceptions import AuthError, MappingError, QueueError
from relay.mapping import InboundRequest
from relay.pipeline import UnsupportedMediaType, map_request, parse_request, reject, store_dial
from relay.runtime import RelayRuntime
from relay.sources import Source

__all__ = ["hook", "read_body"]

log = structlog.get_logger("relay.intake")


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (``BodyTooLarge``) past ``limit`` bytes without buffering it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _json(code: int, /, **content: Any) -> Response:
    """A JSON answer rendered by orjson (Starlette's JSONResponse uses the slower stdlib)."""
    return Response(orjson.dumps(content), status_code=code, media_type="application/json")


async def authenticate(
    request: Request, runtime: RelayRuntime, kind: str
) -> tuple[Source | None, bytes, Response | None]:
    """Find the source, read the body and check auth; on failure, the response to send."""
    name = request.path_params["source"]
    source = runtime.sources.get(name)
    if source is None:
        return None, b"", _json(404, status="error", error=f"unknown source {name!r}")
    try:
        body = await read_body(request, runtime.settings.max_body_bytes)
    except BodyTooLarge:
        return (
            source,
            b"",
            _json(413, status="error", error=f"body over {runtime.settings.max_body_bytes} bytes"),
        )
    try:
        verify(
            source.config.auth,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=dict(request.query_params),
            body=body,
        )
    except AuthError:
        runtime.metrics.auth_failures.labels(name).inc()
        client = request.client.host if request.client else "-"
        log.warning("webhook_unauthorized", source=name, client=client, kind=kind)
        return source, body, _json(401, status="error", error="unauthorized")
    return source, body, None


def inbound(request: Request, source: Source, body: bytes) -> InboundRequest:
    """Parse the request; the source's query secret never reaches the mapping or the store."""
    query = dict(request.query_params)
    secret_param = source.secret_query_param
    if secret_param:
        query.pop(secret_param, None)
    return parse_request(request.method, request.headers.get("content-type", ""), query, body)


async def hook(request: Request) -> Response:
    """The webhook endpoint."""
    runtime: RelayRuntime = request.state.relay
    started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    name = request.path_params["source"]
    response, outcome, dial_id = await _handle(request, runtime)
    runtime.metrics.webhooks.labels(name if name in runtime.sources else "_unknown", outcome).inc()
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
    if runtime.stopping:
        return _json(503, status="error", error="shutting down"), "unavailable", None
    source, body, failure = await authenticate(request, runtime, "hook")
    if failure is not None:
        outcome = {404: "unknown_source", 413: "too_large", 401: "unauthorized"}
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
    dial = mapped.dial
    forwarder = runtime.forwarder
    try:
        queued = await store_dial(
            runtime.queue,
            source,
            dial,
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
        return _json(200, status="duplicate", dial_id=dial.dial_id), "duplicate", dial.dial_id
    if forwarder is not None:
        forwarder.wake()
    return _json(202, status="queued", dial_id=dial.dial_id), "queued", dial.dial_id


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
