"""The forwarder's HTTP client: httpx's types and transports, none of its client middleware.

``create_client(settings)`` builds the one ``ForwardClient`` every delivery shares.
``ForwardClient.post`` builds each ``httpx.Request`` once (its headers prepared once per key)
and sends it through the transport's public ``handle_async_request``: no per-request header
merging, cookie jar, event hooks, auth flow or redirect machinery, which ``httpx.AsyncClient``
runs on every request and the forwarder never needs (docs/benchmarks.md, issue 22).

What the forwarder relies on is unchanged: timeouts raise ``httpx.TimeoutException``, a
refused connection ``httpx.ConnectError``, other failures ``httpx.TransportError``; no
redirect is followed (a 3xx is an answer like any other); no cookie is kept between
deliveries; keep-alive limits come from ``httpx.Limits`` (``relay.delivery.transport``).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from relay.config.settings import Settings
from relay.delivery.transport import Http1Transport

__all__ = ["ForwardClient", "create_client"]


class ForwardClient:
    """POSTs to one base URL through ``transport`` (any ``httpx.AsyncBaseTransport``).

    ``post(path, content=..., headers=...)`` answers an ``httpx.Response`` whose body is read,
    as ``httpx.AsyncClient.post`` does; ``send`` (the forwarder's) answers the response and
    its body, which it takes straight from a stream already in memory. ``headers`` are added
    to ``default_headers`` (an extra header of the same name replaces the default one)."""

    _CACHE_MAX = 64  # distinct paths and distinct extra headers remembered (keys, not dials)
    _SIZED_MAX = 1024  # headers remembered with their Content-Length (per key and body size)

    def __init__(
        self,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport,
        timeout: httpx.Timeout,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = httpx.URL(base_url.rstrip("/"))
        self.transport = transport
        self._timeout = timeout.as_dict()
        self._defaults = dict(default_headers or {})
        self._urls: dict[str, httpx.URL] = {}
        self._headers: dict[tuple[tuple[str, str], ...], list[tuple[bytes, bytes]]] = {}
        self._sized: dict[tuple[tuple[tuple[str, str], ...], int], httpx.Headers] = {}

    def url(self, path: str) -> httpx.URL:
        """``path`` under the base URL (remembered: the forwarder posts to one path)."""
        url = self._urls.get(path)
        if url is None:
            url = self.base_url.copy_with(raw_path=self.base_url.raw_path.rstrip(b"/") + b"/")
            url = url.join(path.lstrip("/"))
            if len(self._urls) < self._CACHE_MAX:
                self._urls[path] = url
        return url

    def sized_headers(self, extra: Mapping[str, str] | None, length: int) -> httpx.Headers:
        """``headers(extra)`` and ``Content-Length: length``, as ``httpx.Headers``, prepared
        once per key and body size (a dial's wire JSON varies by a few bytes: a few hundred
        sizes). A Request copies an ``httpx.Headers`` as a list; it would normalize a list
        of pairs one by one. The defaults and ``extra`` are kept per ``extra`` (one per key)
        as ASCII bytes, as httpx encodes them."""
        key = tuple(extra.items()) if extra else ()
        headers = self._sized.get((key, length))
        if headers is None:
            size = (b"Content-Length", str(length).encode("ascii"))
            headers = httpx.Headers([*self._prepared(key), size])
            if len(self._sized) >= self._SIZED_MAX:
                self._sized.clear()
            self._sized[key, length] = headers
        return headers

    def _prepared(self, key: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
        headers = self._headers.get(key)
        if headers is None:
            merged = {"host": ("Host", self.base_url.netloc.decode("ascii"))}
            merged.update({k.lower(): (k, v) for k, v in self._defaults.items()})
            merged.update({k.lower(): (k, v) for k, v in key})
            headers = [(k.encode("ascii"), v.encode("ascii")) for k, v in merged.values()]
            if len(self._headers) >= self._CACHE_MAX:
                self._headers.clear()  # a reload that changed every key: start again
            self._headers[key] = headers
        return headers

    def request(
        self, path: str, content: bytes, headers: Mapping[str, str] | None = None
    ) -> httpx.Request:
        """The ``POST`` of ``content`` to ``path``: Host and Content-Length set, body in hand."""
        request = httpx.Request(
            "POST",
            self.url(path),
            headers=self.sized_headers(headers, len(content)),  # copied as a list
            stream=httpx.ByteStream(content),
            extensions={"timeout": self._timeout},
        )
        request.read()  # the body in hand (``request.content``) without re-deriving headers
        return request

    async def post(
        self, path: str, *, content: bytes, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST ``content`` to ``path``; the answer with its body read (raises what the
        transport raises: ``httpx.TimeoutException``, ``httpx.TransportError``)."""
        request = self.request(path, content, headers)
        response = await self.transport.handle_async_request(request)
        await _read_whole(response)
        return response

    async def send(
        self, path: str, *, content: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[httpx.Response, bytes]:
        """``post``, for the forwarder: the answer (status and headers) and its body.

        A body the transport already holds in memory (an ``httpx.ByteStream``, as
        ``Http1Transport`` answers) that is not content-encoded is taken from the stream as
        it is, through its public iteration: ``Response.read`` would run it through httpx's
        decoder and chunker generators, about 6 µs per POST for the few bytes outboundIQ
        answers (docs/benchmarks.md). Anything else is read as ``post`` reads it, so
        ``response.content`` is then set too; on the quick path it is not (the body is the
        second value). Raises what ``post`` raises."""
        request = self.request(path, content, headers)
        response = await self.transport.handle_async_request(request)
        stream = response.stream
        if type(stream) is httpx.ByteStream and not _encoded(response.headers.raw):
            return response, b"".join(stream)
        return response, await _read_whole(response)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> ForwardClient:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"ForwardClient({str(self.base_url)!r})"


async def _read_whole(response: httpx.Response) -> bytes:
    """The answer's body, read (``response.content`` set) and the response closed."""
    try:
        if isinstance(response.stream, httpx.SyncByteStream):
            return response.read()  # a body already in memory: no async iteration needed
        return await response.aread()
    finally:
        await response.aclose()


def _encoded(raw: list[tuple[bytes, bytes]]) -> bool:
    """Whether raw headers carry a ``Content-Encoding`` (``in response.headers`` would first
    check that every header is ASCII: twice the time)."""
    return b"content-encoding" in [name.lower() for name, _value in raw]


def create_client(settings: Settings) -> ForwardClient:
    """The one HTTP client every delivery shares: httpx's types on ``Http1Transport``.

    The transport was chosen by measurement (docs/benchmarks.md): httpx's default transport
    caps one process at about 1,000 POSTs/s; aiohttp's client costs about four times this
    one's CPU per POST.
    """
    limits = httpx.Limits(
        max_connections=settings.forward_concurrency,
        max_keepalive_connections=settings.forward_concurrency,
        keepalive_expiry=30,
    )
    return ForwardClient(
        base_url=settings.outboundiq_url,
        timeout=httpx.Timeout(settings.forward_timeout_seconds),
        default_headers={"User-Agent": "outboundiq-relay", "Content-Type": "application/json"},
        transport=Http1Transport(limits=limits),
    )
