"""The uvicorn server the relay runs under: limits for slow or oversized requests, and
readiness that turns false at the first stop signal.

uvicorn times out idle keep-alive connections, but not a client that sends its request head
slowly (slowloris) or without end. ``RelayServerConfig`` picks the same HTTP implementation
as uvicorn's ``auto`` (httptools, else h11) with a guard that closes a connection whose
request head has not arrived within ``header_timeout_seconds`` (408 when part of it came) or
grows past ``max_header_bytes`` (431). Slow bodies are timed out by the intake (408).

The same guard bounds the open connections (``ConnectionLimits``): ``max_connections`` in
all, and ``max_connections_per_client`` from one address (not for trusted proxies, which
carry many clients). A connection past either is answered 503 at once, before any request
is read, and closed; each refusal is counted in ``relay_connections_refused_total{reason}``
and logged (``connections_refused``) once per client and reason per ``REFUSALS_LOGGED_EVERY``
seconds. uvicorn's own ``limit_concurrency`` is not used: it answers uncounted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from relay.config.network import IPNetwork, in_networks
from relay.config.settings import Settings
from relay.intake.answers import HEAD_TIMEOUT, HEAD_TOO_LARGE, TOO_MANY_CONNECTIONS
from relay.intake.runtime import RelayRuntime
from relay.obs.metrics import RelayMetrics

__all__ = [
    "ConnectionLimits",
    "RelayServer",
    "RelayServerConfig",
    "build_server",
    "server_config",
]

log = structlog.get_logger("relay.intake.server")

#: Room for the request line (method, path and query string) on top of the header bytes.
REQUEST_LINE_BYTES = 16 * 1024
#: After a refusal, input is read and dropped this long so the client can read the answer
#: (closing with unread input would reset the connection and lose it).
LINGER_SECONDS = 1.0

#: A client refused again within this many seconds is counted, not logged again.
REFUSALS_LOGGED_EVERY = 60.0
#: Clients whose refusals are remembered for that; past it the oldest are forgotten.
REFUSALS_REMEMBERED = 1024
_BUSY = TOO_MANY_CONNECTIONS((b"retry-after", b"1")).http1()

if TYPE_CHECKING:
    _Base = H11Protocol
else:
    _Base = object


class ConnectionLimits:
    """The connections a server holds, in all and per client address; what it refuses.

    ``admit`` takes a slot for a new connection (None) or names the limit it is over
    (``max_connections``, ``client_connections``); ``release`` gives an admitted one back.
    ``per_client`` 0 is no per-client limit; addresses in ``exempt`` have none either.
    """

    def __init__(
        self,
        total: int,
        per_client: int = 0,
        exempt: Sequence[IPNetwork] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.per_client = per_client
        self.exempt = list(exempt)
        self.open = 0
        self.by_client: dict[str, int] = {}
        self._clock = clock
        self._logged: dict[tuple[str, str], list[float]] = {}  # when, and refusals since

    def admit(self, client: str | None) -> str | None:
        """Take a slot for a connection from ``client``, or say which limit refuses it."""
        if self.open >= self.total:
            return self._refused("max_connections", client, self.total)
        if client is not None and self.per_client:
            held = self.by_client.get(client, 0)
            if held >= self.per_client and not self._exempt(client):
                return self._refused("client_connections", client, self.per_client)
            self.by_client[client] = held + 1
        self.open += 1
        return None

    def release(self, client: str | None) -> None:
        """Give back the slot of an admitted connection."""
        self.open -= 1
        held = self.by_client.get(client or "", 0)
        if held > 1:
            self.by_client[client or ""] = held - 1
        elif held == 1:
            del self.by_client[client or ""]

    def _exempt(self, client: str) -> bool:
        if not self.exempt:
            return False
        try:
            return in_networks(ipaddress.ip_address(client), self.exempt)
        except ValueError:
            return False

    def _refused(self, reason: str, client: str | None, limit: int) -> str:
        """Log the refusal, unless this client's was logged within the interval."""
        key = (reason, client or "unknown")
        now = self._clock()
        entry = self._logged.get(key)
        if entry is not None and now - entry[0] < REFUSALS_LOGGED_EVERY:
            entry[1] += 1
            return reason
        if len(self._logged) >= REFUSALS_REMEMBERED:
            self._logged.pop(next(iter(self._logged)))
        self._logged.pop(key, None)  # re-inserted last: the dict stays oldest first
        self._logged[key] = [now, 0]
        log.warning(
            "connections_refused",
            reason=reason,
            client=key[1],
            limit=limit,
            not_logged=int(entry[1]) if entry is not None else 0,
        )
        return reason


class RelayServerConfig(uvicorn.Config):
    """``uvicorn.Config`` plus the request-head and connection limits the guarded protocols
    read."""

    def __init__(
        self,
        app: Any,
        *,
        header_timeout_seconds: float,
        max_head_bytes: int,
        connections: ConnectionLimits | None = None,
        on_refused: Callable[[str], None] = lambda _reason: None,
        **kwargs: Any,
    ) -> None:
        self.header_timeout_seconds = header_timeout_seconds
        self.max_head_bytes = max_head_bytes
        self.connections = connections
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
    _admitted = False

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
        config = self._limits()
        self._head_timeout = config.header_timeout_seconds
        if config.connections is not None:
            refused = config.connections.admit(self._peer())
            if refused is not None:
                self._refuse(refused, _BUSY)
                return
            self._admitted = True
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self._admitted:
            self._admitted = False
            connections = self._limits().connections
            assert connections is not None
            connections.release(self._peer())
        super().connection_lost(exc)

    def _peer(self) -> str | None:
        """The client's address (the TCP peer: a proxy's own, behind one)."""
        client = self.client
        return client[0] if client else None

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
        "h11_max_incomplete_event_size": settings.max_header_bytes + REQUEST_LINE_BYTES,
        "server_header": False,
        "proxy_headers": False,  # X-Forwarded-For is read by relay.config.network, trusted only
    }
    options.update(overrides)
    return RelayServerConfig(
        app,
        header_timeout_seconds=settings.header_timeout_seconds,
        max_head_bytes=settings.max_header_bytes + REQUEST_LINE_BYTES,
        connections=ConnectionLimits(
            settings.max_connections,
            settings.max_connections_per_client,
            exempt=settings.trusted_proxies,
        ),
        on_refused=on_refused,
        **options,
    )


class RelayServer(uvicorn.Server):
    """uvicorn, but readiness turns false at the first stop signal, before anything closes,
    and the live feed's streams (``/admin/events``) end as the shutdown starts (uvicorn would
    wait for them, as for any response in progress)."""

    def __init__(self, config: uvicorn.Config, runtime: RelayRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.runtime.stopping = True
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.runtime.close_feeds()
        await super().shutdown(sockets)


def build_server(app: Any, settings: Settings, **overrides: Any) -> RelayServer:
    """The server ``relay serve`` runs (and the tests' real servers)."""
    runtime: RelayRuntime = app.state.runtime
    return RelayServer(server_config(app, settings, metrics=runtime.metrics, **overrides), runtime)
