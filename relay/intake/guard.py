"""Request limits: per-source rate limits, JSON nesting depth, header count and size.

``RequestGuard`` is pure ASGI middleware (no ``BaseHTTPMiddleware``: it breaks contextvars).
It answers 431 for too many or too large headers before any route runs, and counts every
answer on ``/hooks/...`` that the hook route did not count itself (405, 404 for a malformed
path, 431, 500), so ``relay_webhooks_total`` accounts for every request the intake refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from relay.config.limits import RateLimit
from relay.core.tokens import TokenBucket
from relay.intake.answers import HEADERS_TOO_LARGE, HOOK_PREFIX, outcome_of
from relay.obs.metrics import RelayMetrics
from relay.obs.tally import OutcomeTally

__all__ = ["COUNTED", "HeaderLimits", "RateLimiter", "RequestGuard", "header_problem"]

#: Set in the ASGI scope by a route that counted its own answer in ``relay_webhooks_total``.
COUNTED = "relay.counted"


class RateLimiter:
    """Token buckets, one per source, in this process (each replica counts on its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, tuple[RateLimit, TokenBucket]] = {}
        self._clock = clock

    def acquire(self, source: str, limit: RateLimit) -> float | None:
        """Take one request from ``source``'s budget; when empty, seconds until one is free."""
        entry = self._buckets.get(source)
        if entry is None or entry[0] != limit:  # new source, or its limit was reloaded
            entry = self._buckets[source] = (
                limit,
                TokenBucket(limit.per_second, limit.capacity, clock=self._clock),
            )
        return entry[1].take()


def header_problem(headers: list[tuple[bytes, bytes]], limits: HeaderLimits) -> str | None:
    """Why a request's headers are refused (431), or None: too many, or too many bytes."""
    if len(headers) > limits.max_header_count:
        return f"more than {limits.max_header_count} headers"
    size = sum(len(name) + len(value) for name, value in headers)
    if size > limits.max_header_bytes:
        return f"headers over {limits.max_header_bytes} bytes"
    return None


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
        tally: OutcomeTally | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tally = tally if tally is not None else OutcomeTally()
        self.sources = sources
        self.max_header_count = max_header_count
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        hook = path.startswith(HOOK_PREFIX)
        problem = header_problem(scope.get("headers", []), self)
        if problem is not None:
            await HEADERS_TOO_LARGE(problem=problem).send(send)
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
        name = path[len(HOOK_PREFIX) :]
        label = name if name in self.sources() else "_unknown"
        outcome = outcome_of(status)
        self.metrics.webhook_outcome(label, outcome)
        self.tally.count(label, outcome)
