"""``ForwardClient`` builds each POST from headers prepared once per key and body size."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from relay.delivery.client import ForwardClient

BEARER = {"Authorization": "Bearer oiq-client-key-0001"}


def _client() -> ForwardClient:
    return ForwardClient(
        base_url="https://api.outboundiq.cloud/",
        transport=httpx.MockTransport(lambda request: httpx.Response(202)),
        timeout=httpx.Timeout(5.0),
        default_headers={"User-Agent": "outboundiq-relay", "Content-Type": "application/json"},
    )


def test_a_post_carries_host_the_defaults_its_key_and_its_length_in_order() -> None:
    request = _client().request("/dials", b'{"dial_id":"d-1"}', BEARER)
    assert request.headers.raw == [
        (b"Host", b"api.outboundiq.cloud"),
        (b"User-Agent", b"outboundiq-relay"),
        (b"Content-Type", b"application/json"),
        (b"Authorization", b"Bearer oiq-client-key-0001"),
        (b"Content-Length", b"17"),
    ]
    assert (request.method, str(request.url), request.content) == (
        "POST",
        "https://api.outboundiq.cloud/dials",
        b'{"dial_id":"d-1"}',
    )


def test_prepared_headers_are_shared_but_each_request_owns_its_copy() -> None:
    """Two bodies of one size with one key: one prepared set of headers; a change to one
    request's headers (a transport may add one) reaches neither the other nor the next."""
    client = _client()
    first = client.request("/dials", b'{"dial_id":"d-1"}', BEARER)
    assert client.sized_headers(BEARER, 17) is client.sized_headers(BEARER, 17)
    first.headers["X-Extra"] = "1"
    second = client.request("/dials", b'{"dial_id":"d-2"}', BEARER)
    assert "x-extra" not in second.headers
    assert "x-extra" not in client.sized_headers(BEARER, 17)
    other = client.request("/dials", b'{"dial_id":"d-10"}', {"Authorization": "Bearer other"})
    assert (other.headers["authorization"], other.headers["content-length"]) == (
        "Bearer other",
        "18",
    )


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def _answering(response: httpx.Response) -> ForwardClient:
    client = _client()

    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    client.transport = httpx.MockTransport(handler)
    return client


@pytest.mark.anyio
async def test_send_answers_the_body_held_in_memory_as_it_came() -> None:
    answer = httpx.Response(202, stream=httpx.ByteStream(b'{"status":"accepted"}'))
    response, body = await _answering(answer).send("/dials", content=b"{}", headers=BEARER)
    assert (response.status_code, body) == (202, b'{"status":"accepted"}')


@pytest.mark.anyio
async def test_send_decodes_a_content_encoded_body_and_reads_a_streamed_one() -> None:
    """The quick path is only for a plain body in memory: a gzipped answer is decoded (as
    ``Response.read`` does), and a body that arrives in chunks is read whole."""
    zipped = httpx.Response(
        400,
        headers={"Content-Encoding": "gzip"},
        stream=httpx.ByteStream(gzip.compress(b'{"error":"bad dial"}')),
    )
    response, body = await _answering(zipped).send("/dials", content=b"{}")
    assert (response.status_code, body, response.content) == (
        400,
        b'{"error":"bad dial"}',
        b'{"error":"bad dial"}',
    )
    chunked = httpx.Response(503, stream=_Chunks(b'{"error":', b'"busy"}'))
    response, body = await _answering(chunked).send("/dials", content=b"{}")
    assert (body, response.is_closed) == (b'{"error":"busy"}', True)
