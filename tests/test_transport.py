"""The forwarder's HTTP client: httpx's API on the aiohttp transport, against real servers."""

from __future__ import annotations

import httpx
import pytest

from relay.forwarder import create_client
from relay.settings import Settings
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply, free_port

pytestmark = pytest.mark.anyio


def _settings(url: str) -> Settings:
    return Settings(outboundiq_url=url, forward_timeout_seconds=2.0)


async def test_post_round_trip(fake: FakeOutboundIQ) -> None:
    """Body, headers and status travel both ways as with httpx's own transport."""
    fake.script(Reply(429, body='{"error":"slow down"}', headers={"Retry-After": "7"}))
    async with create_client(_settings(fake.url)) as client:
        response = await client.post(
            "/dials", content=b'{"dial_id":"d-1"}', headers={"Authorization": "Bearer k-1"}
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"error": "slow down"}
    sent = fake.requests[0]
    assert (sent.method, sent.path, sent.body) == ("POST", "/dials", b'{"dial_id":"d-1"}')
    assert sent.bearer == "k-1"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"] == "outboundiq-relay"


async def test_no_cookies_are_kept(fake: FakeOutboundIQ) -> None:
    """A Set-Cookie from outboundIQ is never sent back on later deliveries."""
    fake.script(Reply(200, headers={"Set-Cookie": "session=abc; Path=/"}))
    async with create_client(_settings(fake.url)) as client:
        await client.post("/dials", content=b"{}")
        await client.post("/dials", content=b"{}")
    assert "cookie" not in fake.requests[1].headers


async def test_refused_connection_is_a_connect_error() -> None:
    """Nothing listening: httpx.ConnectError, as the forwarder expects."""
    async with create_client(_settings(f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post("/dials", content=b"{}")


async def test_slow_answer_is_a_timeout(fake: FakeOutboundIQ) -> None:
    """An answer slower than the timeout raises httpx.TimeoutException."""
    fake.script(Reply(200, delay=1.0))
    settings = Settings(outboundiq_url=fake.url, forward_timeout_seconds=0.2)
    async with create_client(settings) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post("/dials", content=b"{}")


async def test_dropped_connection_is_a_transport_error(fake: FakeOutboundIQ) -> None:
    """A connection closed without an answer raises an httpx.TransportError."""
    fake.script(Reply(drop=True))
    async with create_client(_settings(fake.url)) as client:
        with pytest.raises(httpx.TransportError):
            await client.post("/dials", content=b"{}")
