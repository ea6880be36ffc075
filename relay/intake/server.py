"""The uvicorn server the relay runs under: limits for slow or oversized requests, and
readiness that turns false at the first stop signal.

uvicorn times out idle keep-alive connections, but not a client that sends its request head
slowly (slowloris) or without end. ``RelayServerConfig`` picks the same HTTP implementation
as uvicorn's ``auto`` (httptools, else h11) with a guard that closes a connection whose
request head has not arrived within ``header_timeout_seconds`` (408 when part of it came) or
grows past ``max_header_bytes`` (431). Slow bodies are timed out by the intake (408), and
``max_connections`` bounds the connections and requests in flight (503 beyond).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from relay.config.settings import Settings
from relay.intake.answers import HEAD_TIMEOUT, HEAD_TOO_LARGE
from relay.intake.runtime import RelayRuntime
from relay.obs.metrics import RelayMetrics

__all__ = ["RelayServer", "RelayServerConfig", "build_server", "server_config"]

#: Room for the request line (method, path and query string) on top of the header bytes.
REQUEST_LINE_BYTES = 16 * 1024
#: After a refusal, input is read and dropped this long so the client can read the answer
#: (closing with unread input would reset the connection and lose it).
LINGER_SECONDS = 1.0

if TYPE_CHECKING:
    _Base = H11Protocol
else:
    _Base = object


class RelayServerConfig(uvicorn.Config):
    """``uvicorn.Config`` plus the request-head limits the guarded protocols read."""

    def __init__(
        self,
        app: Any,
        *,
        header_timeout_seconds: float,
        max_head_bytes: int,
        on_refused: Callable[[str], None] = lambda _reason: None,
        **kwargs: Any,
    ) -> None:
        self.header_timeout_seconds = header_timeout_seconds
        self.max_head_bytes = max_head_bytes
        self.on_refused = on_refused
        super().__init__(app, http=_guarded_protocol(), **kwargs)


class _HeadGuard(_Base):
    """Times and sizes each request head (a mixin over uvicorn's HTTP protocols).

    Arming for the next head happens once per request, so it only stores a deadline; one
    timer per connection wakes at the earliest deadline that may still be pending and, when
    the connection has moved on, sleeps until the current one (no timer is created or
    cancelled per request: docs/benchmarks.md).
    """

    _head_timer: asyncio.TimerHandle | None = None
    _head_deadline: float | None = None
    _head_cycle: object = None
    _head_bytes = 0
    _head_timeout = 0.0
    _refused = False

    def _limits(self) -> RelayServerConfig:
        config = self.config
        assert isinstance(config, RelayServerConfig)
        return config

    def _arm(self) -> None:
        """Start waiting for a request head (on connect, and after each response)."""
        self._head_cycle = self.cycle
        self._head_bytes = 0
        timeout = self._head_timeout
        self._head_deadline = self.loop.time() + timeout
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(timeout, self._head_check)

    def _disarm(self) -> None:
        """Stop waiting (the timer, if any, finds no deadline and ends)."""
        self._head_deadline = None

    def _stop_timer(self) -> None:
        self._head_deadline = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_check(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None:
            return
        if self.loop.time() < deadline:  # re-armed since this timer was set: sleep on
            self._head_timer = self.loop.call_at(deadline, self._head_check)
            return
        self._head_deadline = None
        self._head_timed_out()

    def _waiting_for_head(self) -> bool:
        return self.cycle is self._head_cycle and not self.transport.is_closing()

    def _refuse(self, reason: str, response: bytes) -> None:
        """Answer, stop parsing, drain what the client still sends for a moment, close."""
        self._stop_timer()
        self._refused = True
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
        self._limits().on_refused(reason)

    def _head_timed_out(self) -> None:
        if not self._waiting_for_head():
            return
        if self._head_bytes == 0:  # an idle connection: close quietly, as keep-alive does
            self.transport.close()
            return
        self._refuse("header_timeout", HEAD_TIMEOUT().http1())

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timeout = self._limits().header_timeout_seconds
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining after a refusal
        super().data_received(data)
        if self._head_deadline is None:
            return
        if not self._waiting_for_head():  # the head is complete: a request is in flight
            self._disarm()
            return
        self._head_bytes += len(data)
        limit = self._limits().max_head_bytes
        if self._head_bytes > limit:
            self._refuse("head_too_large", HEAD_TOO_LARGE(limit=limit).http1())

    def on_response_complete(self) -> None:
        self._arm()  # before the parent, which may start a pipelined request at once
        super().on_response_complete()


def _guarded_protocol() -> type[asyncio.Protocol]:
    """uvicorn's ``auto`` choice (httptools when installed, else h11), with the guard."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is in uvicorn[standard]

        class GuardedH11Protocol(_HeadGuard, H11Protocol):
            pass

        return GuardedH11Protocol

    class GuardedHttpToolsProtocol(_HeadGuard, HttpToolsProtocol):  # type: ignore[misc]
        pass

    return GuardedHttpToolsProtocol


def server_config(
    app: Any,
    settings: Settings,
    *,
    metrics: RelayMetrics | None = None,
    **overrides: Any,
) -> RelayServerConfig:
    """How ``relay serve`` (and the tests' real servers) run ``app`` under uvicorn.

    Refused connections are counted in ``metrics`` (``relay_connections_refused_total``).
    """

    def on_refused(reason: str) -> None:
        if metrics is not None:
            metrics.connections_refused.labels(reason).inc()

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,  # it would print query strings, which may carry a secret
        "lifespan": "on",
        "timeout_keep_alive": settings.keep_alive_seconds,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds) + 1,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": settings.max_header_bytes + REQUEST_LINE_BYTES,
        "server_header": False,
        "proxy_headers": False,  # X-Forwarded-For is read by relay.config.network, trusted only
    }
    options.update(overrides)
    return RelayServerConfig(
        app,
        header_timeout_seconds=settings.header_timeout_seconds,
        max_head_bytes=settings.max_header_bytes + REQUEST_LINE_BYTES,
        on_refused=on_refused,
        **options,
    )


class RelayServer(uvicorn.Server):
    """uvicorn, but readiness turns false at the first stop signal, before anything closes."""

    def __init__(self, config: uvicorn.Config, runtime: RelayRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.stopping = True
        super().handle_exit(sig, frame)


def build_server(app: Any, settings: Settings, **overrides: Any) -> RelayServer:
    """The server ``relay serve`` runs (and the tests' real servers)."""
    runtime: RelayRuntime = app.state.runtime
    return RelayServer(server_config(app, settings, metrics=runtime.metrics, **overrides), runtime)
