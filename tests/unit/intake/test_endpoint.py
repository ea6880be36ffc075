"""The hook endpoint's pure parts: reading a request from the ASGI scope and its body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from relay.exceptions import BodyTimeout, BodyTooLarge, ClientGone, RequestError
from relay.intake.endpoint import Incoming, read_body

pytestmark = pytest.mark.anyio

Receive = Callable[[], Awaitable[dict[str, Any]]]


def chunks(*parts: bytes) -> Receive:
    """An ASGI ``receive`` that yields ``parts`` as the body, then a disconnect."""
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


async def test_body_is_read_whole() -> None:
    assert await read_body(chunks(b"ab", b"", b"cd"), "4", 10) == b"abcd"
    assert await read_body(chunks(b"ten bytes!"), None, 10) == b"ten bytes!"


async def test_a_declared_size_over_the_limit_is_refused_unread() -> None:
    """A Content-Length over the limit is refused before anything is read."""

    async def unread() -> dict[str, Any]:
        raise AssertionError("the body was read")

    with pytest.raises(BodyTooLarge) as refused:
        await read_body(unread, "11", 10)
    assert refused.value.limit == 10
    assert str(refused.value) == "body over 10 bytes"


async def test_a_streamed_body_over_the_limit_is_refused() -> None:
    """Without (or despite) a Content-Length, the body stops at the limit."""
    with pytest.raises(BodyTooLarge):
        await read_body(chunks(b"12345", b"678901"), None, 10)
    with pytest.raises(BodyTooLarge):
        await read_body(chunks(b"12345", b"678901"), "5", 10)


async def test_a_client_gone_before_its_body() -> None:
    with pytest.raises(ClientGone):
        await read_body(chunks(), "10", 100)


async def test_a_slow_body_times_out() -> None:
    """The whole body must arrive in time; the timeout is a RequestError like the others."""

    async def slow() -> dict[str, Any]:
        await asyncio.sleep(10)
        raise AssertionError("not timed out")

    with pytest.raises(BodyTimeout) as refused:
        await read_body(slow, "10", 100, within=0.05)
    assert isinstance(refused.value, RequestError)


async def test_reads_in_flight_time_out_each_at_its_own_deadline() -> None:
    """One timer serves every read in flight: a slow read armed after a slower one, with a
    shorter limit, still times out at its own deadline; reads that finish in time are
    answered, and a later read armed after all that still times out (the timer re-arms)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Event()

    async def held() -> dict[str, Any]:
        await gate.wait()
        return {"type": "http.request", "body": b"ok", "more_body": False}

    async def timed(within: float) -> tuple[str, float]:
        started = loop.time()
        try:
            return (await read_body(held, None, 100, within=within)).decode(), 0.0
        except BodyTimeout:
            return "timeout", loop.time() - started

    long_ = asyncio.ensure_future(timed(30))
    short = asyncio.ensure_future(timed(0.1))
    quick = asyncio.ensure_future(timed(30))
    got, waited = await short
    assert got == "timeout" and 0.09 <= waited < 5
    assert not long_.done() and not quick.done()
    gate.set()
    assert await long_ == ("ok", 0.0) and await quick == ("ok", 0.0)
    gate.clear()
    got, waited = await timed(0.05)
    assert got == "timeout" and 0.04 <= waited < 5


async def test_a_cancelled_read_is_not_a_timeout() -> None:
    """Cancelled from outside (the server shutting down): cancelled, not a 408."""
    never = asyncio.Event()

    async def held() -> dict[str, Any]:
        await never.wait()
        raise AssertionError("unreachable")

    reading = asyncio.ensure_future(read_body(held, None, 100, within=30))
    await asyncio.sleep(0)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading


def scope(query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/hooks/crm",
        "query_string": query,
        "headers": headers or [],
        "client": ("192.0.2.7", 40000),
    }


def test_incoming_reads_the_scope() -> None:
    """Headers by lower-case name (the last of a repeated one), the query's parameters (the
    last of a repeated one), the peer, and every X-Forwarded-For header in order."""
    incoming = Incoming(
        scope(
            b"a=1&b=&a=2",
            [
                (b"x-token", b"one"),
                (b"x-token", b"two"),
                (b"x-forwarded-for", b"203.0.113.1"),
                (b"x-forwarded-for", b"198.51.100.2, 10.0.0.1"),
            ],
        )
    )
    assert incoming.method == "POST"
    assert incoming.headers["x-token"] == "two"
    assert incoming.query == {"a": "2", "b": ""}
    assert incoming.peer == "192.0.2.7"
    assert incoming.client == "unknown"  # until the source's admission names it
    assert incoming.forwarded_for() == ["203.0.113.1", "198.51.100.2, 10.0.0.1"]
    assert Incoming(scope()).query == {}
