"""An httpx transport for the forwarder: HTTP/1.1 keep-alive connections on asyncio.

Why: measured on the benchmark machine (docs/benchmarks.md), httpx's default transport
(httpcore) delivers about 1,000 POSTs/s from one process, aiohttp's client about 15,000/s at
about 70-130 µs of CPU per POST, and this transport the same POST for about a quarter of
aiohttp's CPU: one ``asyncio.Protocol`` per connection, the request written in one call,
the answer parsed by ``httptools`` (the C parser uvicorn uses) straight into an
``httpx.Response``. It implements what the forwarder needs and nothing more: HTTP/1.1, plain or
TLS (certificates verified), request bodies in memory, answers read whole (``Content-Length``,
chunked, or until the server closes), keep-alive with ``httpx.Limits``. No HTTP/2, no proxies,
no redirects followed (a 3xx is an answer like any other), no cookies, no ``HEAD`` (its answer
announces a body it does not send: the parser, which does not know the method, would wait).

Errors are httpx's, as with its own transport: a connection that cannot be made raises
``httpx.ConnectError`` (``httpx.ConnectTimeout`` past the connect timeout), an answer slower
than the read timeout ``httpx.ReadTimeout`` (the time allowed between two reads, as in httpx),
a connection closed before a whole answer ``httpx.RemoteProtocolError`` or ``httpx.ReadError``,
an answer that is not HTTP ``httpx.RemoteProtocolError``; all are ``httpx.TransportError``.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any, cast

import httptools
import httpx

__all__ = ["Http1Transport"]

_Origin = tuple[str, str, int]
_FRAMING = (b"content-length", b"transfer-encoding")
_LF, _CR = ord("\n"), ord("\r")
#: Encoded request heads a transport remembers (one per key and body size in the forwarder).
HEADS_REMEMBERED = 1024


class Http1Transport(httpx.AsyncBaseTransport):
    """``ForwardClient(transport=Http1Transport(limits=...))``: one pool of connections for
    all origins, at most ``limits.max_connections`` open, at most
    ``limits.max_keepalive_connections`` kept idle, each for ``limits.keepalive_expiry`` s."""

    def __init__(
        self,
        *,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.limits = limits or httpx.Limits()
        self._ssl: ssl.SSLContext = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        )
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open = 0  # connections open or being opened
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False
        self._heads: dict[tuple[Any, ...], bytes] = {}  # encoded heads (``_encode``)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        data = _encode(request, await _body(request), self._heads)
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        try:
            conn = await self._acquire(origin, timeouts, request.extensions.get("sni_hostname"))
            try:
                status, reason, headers, body = await conn.exchange(data, timeouts.get("read"))
            except BaseException:
                conn.abort()
                raise
            self._release(origin, conn)
        except httpx.TransportError as exc:
            exc.request = request
            raise
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),  # read by whoever reads the response
            request=request,
            extensions=extensions,
        )

    # --- the pool -------------------------------------------------------------------------
    async def _acquire(
        self, origin: _Origin, timeouts: dict[str, float | None], sni: str | None
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise httpx.ConnectError("the client is closed")
            idle = self._idle.get(origin)
            expiry = self.limits.keepalive_expiry
            while idle:
                conn = idle.pop()  # the most recently used: the least likely to be stale
                if conn.usable(loop.time(), expiry):
                    return conn
                conn.abort()
            limit = self.limits.max_connections
            if limit is None or self._open < limit:
                return await self._connect(origin, timeouts, sni)
            self._close_idle_elsewhere()  # its slot frees when it has closed: wait for it
            waiter = loop.create_future()
            self._waiting.append(waiter)
            try:
                async with asyncio.timeout(timeouts.get("pool")):
                    await waiter
            except TimeoutError as exc:
                raise httpx.PoolTimeout("no connection free in time") from exc
            finally:
                if not waiter.done():
                    waiter.cancel()
                if waiter in self._waiting:
                    self._waiting.remove(waiter)

    def _close_idle_elsewhere(self) -> None:
        """Close one idle connection (to another origin) to free a slot."""
        for conns in self._idle.values():
            if conns:
                conns.pop(0).abort()
                return

    async def _connect(
        self, origin: _Origin, timeouts: dict[str, float | None], sni: str | None
    ) -> _Connection:
        scheme, host, port = origin
        tls = scheme == "https"
        loop = asyncio.get_running_loop()
        self._open += 1
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _transport, conn = await loop.create_connection(
                    lambda: _Connection(loop, self._forget),
                    host,
                    port,
                    ssl=self._ssl if tls else None,
                    server_hostname=(sni or host) if tls else None,
                )
        except BaseException as exc:
            self._forget(None)  # no connection: its slot is free
            if isinstance(exc, TimeoutError):
                raise httpx.ConnectTimeout(_message(exc)) from exc
            if isinstance(exc, OSError):  # refused, unreachable, DNS, TLS (certificates)
                raise httpx.ConnectError(_message(exc)) from exc
            raise
        conn.counted = True  # from now on its close frees its slot
        return conn

    def _release(self, origin: _Origin, conn: _Connection) -> None:
        """``conn`` finished an exchange: kept idle for the next request, or closed."""
        idle = self._idle.setdefault(origin, [])
        keep = self.limits.max_keepalive_connections
        if self._closed or not conn.reusable() or (keep is not None and len(idle) >= keep):
            conn.abort()
            return
        conn.idle_since = asyncio.get_running_loop().time()
        idle.append(conn)
        self._wake()

    def _forget(self, conn: _Connection | None) -> None:
        """A connection closed (or failed to open: None): its slot is free."""
        if conn is not None and not conn.counted:
            return  # closed while opening: ``_connect`` freed its slot
        self._open -= 1
        if conn is not None:
            for idle in self._idle.values():
                if conn in idle:
                    idle.remove(conn)
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for idle in list(self._idle.values()):
            while idle:
                idle.pop().abort()
        self._wake()
        await asyncio.sleep(0)  # let the transports close before the loop ends


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, the answer parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, closed: Any) -> None:
        self._loop = loop
        self._on_closed = closed
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout: float | None = None  # the exchange's
        self._armed = 0.0  # the time the timer was set for when it was set
        self._last_read = 0.0
        self._closed = False
        self._keep_alive = True
        self._status = 0
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._started = False  # a byte of this exchange's answer arrived
        self._complete = False
        self.idle_since = 0.0
        self.counted = False

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        self._started = True
        self._last_read = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP answer: {_message(exc)}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._status and self._until_close():
                self._complete = True
                self._keep_alive = False
                waiter.set_result(None)  # an answer without length: its end is the close
            elif self._started:
                self._fail(httpx.ReadError("the connection closed during the answer"))
            else:
                self._fail(httpx.RemoteProtocolError("server disconnected without answering"))
        self._on_closed(self)

    # --- httptools callbacks -------------------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an informational answer (100 Continue): the real one follows
            self._status, self._reason, self._headers, self._body = 0, b"", [], []
            return
        self._complete = True
        self._keep_alive = self._parser.should_keep_alive()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- one exchange --------------------------------------------------------------------
    async def exchange(
        self, data: list[bytes], read_timeout: float | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
        """Write the request ``data``; the answer's status, reason, headers and body."""
        transport = self._transport
        if transport is None or self._closed or transport.is_closing():
            raise httpx.RemoteProtocolError("the connection is closed")
        self._status, self._reason, self._headers, self._body = 0, b"", [], []
        self._started = self._complete = False
        waiter = self._waiter = self._loop.create_future()
        self._last_read = self._loop.time()
        self._read_timeout = read_timeout
        transport.writelines(data)
        if read_timeout is not None and (self._timer is None or read_timeout < self._armed):
            # One timer per connection, kept across exchanges: when it fires it measures the
            # quiet since the last read (or this exchange's start) and sleeps on for the rest,
            # so no timer is made and cancelled per POST (docs/benchmarks.md). A shorter
            # timeout than the one it was set for sets it again.
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_later(read_timeout, self._check_read)
            self._armed = read_timeout
        try:
            await waiter
        finally:
            self._waiter = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return self._status, self._reason, self._headers, body

    def _check_read(self) -> None:
        """The read timer: fail if nothing arrived for the exchange's read timeout, else wait
        on (between exchanges it ends; the next exchange starts another)."""
        self._timer = None
        waiter, timeout = self._waiter, self._read_timeout
        if waiter is None or waiter.done() or timeout is None:
            return
        quiet = self._loop.time() - self._last_read
        if quiet < timeout:
            self._timer = self._loop.call_later(timeout - quiet, self._check_read)
            self._armed = timeout - quiet
            return
        self._fail(httpx.ReadTimeout(f"no answer within {timeout:g} s"))
        self.abort()

    def _fail(self, exc: httpx.TransportError) -> None:
        self._keep_alive = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _until_close(self) -> bool:
        """Whether the answer has no length of its own (its body ends when the connection
        does)."""
        return not any(name.lower() in _FRAMING for name, _ in self._headers)

    # --- the pool's view -----------------------------------------------------------------
    def usable(self, now: float, expiry: float | None) -> bool:
        transport = self._transport
        if self._closed or transport is None or transport.is_closing():
            return False
        return expiry is None or now - self.idle_since < expiry

    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self._closed

    def abort(self) -> None:
        self._keep_alive = False
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()


async def _body(request: httpx.Request) -> bytes:
    """The request's body, read first if it is a stream (``ForwardClient`` reads it)."""
    try:
        return request.content
    except httpx.RequestNotRead:
        return await request.aread()


def _encode(
    request: httpx.Request, body: bytes, heads: dict[tuple[Any, ...], bytes]
) -> list[bytes]:
    """The request as bytes: its line, its headers (Content-Length set from ``body``), the
    body. A header holding a line break is refused (it would smuggle a header in).

    ``heads`` remembers the encoded request line and headers by what they are made of (the
    method, the path, the body's length and the raw headers, which carry ``Host``): the
    forwarder sends the same few heads over and over (one per key and body size). A request
    without its own ``Host`` header is encoded each time (its head also depends on the URL).
    """
    raw = request.headers.raw
    key = (request.method, request.url.raw_path, len(body), *raw)
    head = heads.get(key)
    if head is None:
        head, own_host = _head(request, raw, body)
        if own_host:
            if len(heads) >= HEADS_REMEMBERED:
                heads.clear()
            heads[key] = head
    return [head, body] if body else [head]


def _head(
    request: httpx.Request, raw: list[tuple[bytes, bytes]], body: bytes
) -> tuple[bytes, bool]:
    """The request line and headers, and whether the request had a ``Host`` of its own."""
    url = request.url
    lines = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
    host = False
    for name, value in raw:
        lower = name.lower()
        if lower in _FRAMING:
            continue
        # bytes' ``in`` tries its operand as an int first: a bytes operand raises and clears a
        # TypeError on every call (6x slower, 16 times a POST); an int is a plain search
        if _LF in value or _CR in value or _LF in name or _CR in name:
            raise httpx.LocalProtocolError("a header holds a line break", request=request)
        host = host or lower == b"host"
        lines += (name, b": ", value, b"\r\n")
    if not host:
        lines += (b"Host: ", url.netloc, b"\r\n")
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines += (b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n")
    lines.append(b"\r\n")
    return b"".join(lines), host


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
