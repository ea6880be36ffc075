"""Request limits: per-source rate limits, JSON nesting depth, header count and size.

``RequestGuard`` is pure ASGI middleware (no ``BaseHTTPMiddleware``: it breaks contextvars).
It answers 431 for too many or too large headers before any route runs, and counts every
answer on ``/hooks/...`` that the hook route did not count itself (405, 404 for a malformed
path, 431, 500), so ``relay_webhooks_total`` accounts for every request the intake refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.config.limits import RateLimit
from relay.obs.metrics import RelayMetrics

__all__ = [
    "COUNTED",
    "RateLimiter",
    "RequestGuard",
    "header_problem",
    "json_http_error",
    "outcome_of",
]

#: Set in the ASGI scope by a route that counted its own answer in ``relay_webhooks_total``.
COUNTED = "relay.counted"

_STATUS_OUTCOMES = {
    400: "bad_request",
    404: "unknown_source",
    405: "method_not_allowed",
    408: "timeout",
    413: "too_large",
    431: "headers_too_large",
}


@dataclass
class _Bucket:
    limit: RateLimit
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets, one per source, in this process (each replica counts on its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock

    def acquire(self, source: str, limit: RateLimit) -> float | None:
        """Take one request from ``source``'s budget; when empty, seconds until one is free."""
        now = self._clock()
        bucket = self._buckets.get(source)
        if bucket is None or bucket.limit != limit:  # new source, or its limit was reloaded
            bucket = self._buckets[source] = _Bucket(limit, limit.capacity, now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(limit.capacity, bucket.tokens + elapsed * limit.per_second)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / limit.per_second


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, never 0 (a 0 invites an immediate retry storm)."""
    return str(max(1, math.ceil(seconds)))


def _error(status: int, message: str) -> tuple[Message, Message]:
    body = orjson.dumps({"status": "error", "error": message})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def header_problem(headers: list[tuple[bytes, bytes]], limits: HeaderLimits) -> str | None:
    """Why a request's headers are refused (431), or None: too many, or too many bytes."""
    if len(headers) > limits.max_header_count:
        return f"more than {limits.max_header_count} headers"
    size = sum(len(name) + len(value) for name, value in headers)
    if size > limits.max_header_bytes:
        return f"headers over {limits.max_header_bytes} bytes"
    return None


def outcome_of(status: int) -> str:
    """The ``relay_webhooks_total`` outcome of an answer given outside the hook's own logic."""
    return _STATUS_OUTCOMES.get(status, "error" if status >= 500 else f"http_{status}")


class HeaderLimits(Protocol):
    @property
    def max_header_count(self) -> int: ...

    @property
    def max_header_bytes(self) -> int: ...


class RequestGuard:
    """Header limits for every route, and a complete count of answers under ``/hooks/``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: RelayMetrics,
        sources: Callable[[], Collection[str]],
        max_header_count: int,
        max_header_bytes: int,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.sources = sources
        self.max_header_count = max_header_count
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        hook = path.startswith("/hooks/")
        problem = header_problem(scope.get("headers", []), self)
        if problem is not None:
            start, body = _error(431, problem)
            await send(start)
            await send(body)
            if hook:
                self._count(path, 431)
            return
        if not hook:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if not scope.get(COUNTED):
                self._count(path, status)

    def _count(self, path: str, status: int) -> None:
        name = path[len("/hooks/") :]
        label = name if name in self.sources() else "_unknown"
        self.metrics.webhook_outcome(label, outcome_of(status))


async def json_http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404 no route, 405 wrong method) as JSON, like ours."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"status": "error", "error": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )
