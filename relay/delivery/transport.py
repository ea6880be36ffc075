"""An httpx transport on aiohttp's connection pool: httpx stays the client API, aiohttp moves bytes.

Why: measured on the benchmark machine (docs/benchmarks.md), httpx's default transport
(httpcore) delivers about 1,000 POSTs/s from one process and less with more connections,
while aiohttp's client does over 15,000/s. The third-party ``httpx-aiohttp`` wrapper streams
every response through generic adapters; the forwarder's answers are small, so this one reads
the body in one call, reuses its timeout objects and maps errors with plain ``except``
clauses. Everything the relay relies on behaves as with httpcore: status, headers, body,
timeouts (``httpx.TimeoutException``), connection failures (``httpx.ConnectError`` and other
``httpx.TransportError``), no redirects followed, keep-alive limits from ``httpx.Limits``.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import httpx

__all__ = ["AiohttpTransport", "RelayClient"]


class _NoCookies(httpx.Cookies):
    """The relay keeps no cookies between deliveries (and skips parsing them)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class RelayClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` minus per-request work the forwarder does not need.

    Measured (docs/benchmarks.md): parsing ``Set-Cookie`` into a jar and re-merging the base
    URL were about a fifth of the client's CPU per POST. Cookies are not kept (outboundIQ
    sets none and deliveries must not share state); relative URLs are merged once and
    remembered (the forwarder posts to one path).
    """

    _URL_CACHE_MAX = 64

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()
        self._merged: dict[str, httpx.URL] = {}

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        if not isinstance(url, str):
            return super()._merge_url(url)
        merged = self._merged.get(url)
        if merged is None:
            merged = super()._merge_url(url)
            if len(self._merged) < self._URL_CACHE_MAX:
                self._merged[url] = merged
        return merged


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=AiohttpTransport(limits=...))``: one aiohttp pool."""

    def __init__(
        self,
        *,
        limits: httpx.Limits | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.limits = limits or httpx.Limits()
        self._ssl: ssl.SSLContext | bool = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        )
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        # Built on first use: aiohttp wants a running event loop.
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            limit_per_host=0,
            keepalive_timeout=self.limits.keepalive_expiry or 15.0,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # httpx decodes Content-Encoding itself
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    def _timeout(self, spec: dict[str, float | None]) -> aiohttp.ClientTimeout:
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"), spec.get("write"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool, _write = key
            timeout = aiohttp.ClientTimeout(
                total=None, connect=pool, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        try:
            body: bytes | None = request.content or None
        except httpx.RequestNotRead:
            body = await request.aread() or None
        headers = [
            (k, v)
            for k, v in request.headers.multi_items()
            if k not in ("content-length", "transfer-encoding")
        ]
        try:
            async with session.request(
                request.method,
                str(request.url),
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
            ) as response:
                content = await response.read()
                status = response.status
                raw_headers = response.raw_headers
                reason = response.reason
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise _timeout_error(exc, request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(
                str(exc) or "server disconnected", request=request
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.NetworkError(str(exc) or type(exc).__name__, request=request) from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if reason:
            extensions["reason_phrase"] = reason.encode("latin-1", "replace")
        return httpx.Response(
            status,
            headers=list(raw_headers),
            content=content,
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            await asyncio.sleep(0)  # let aiohttp close its transports before the loop ends


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _timeout_error(exc: BaseException, request: httpx.Request) -> httpx.TimeoutException:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(_message(exc), request=request)
    return httpx.ReadTimeout(_message(exc), request=request)
