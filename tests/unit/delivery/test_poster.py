"""One POST /dials on the forwarder's own client, against the fake outboundIQ."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from relay.config.settings import Settings
from relay.delivery.client import create_client
from relay.delivery.poster import Poster, PostResult
from relay.obs.metrics import RelayMetrics
from relay.queue.base import LeasedDial
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply, free_port

pytestmark = pytest.mark.anyio

KEY = SecretStr("oiq-poster-key-0001")
DIAL = LeasedDial("1", "crm", "call-1", b'{"dial_id":"call-1"}', attempts=1, received_at=0.0)


def _settings(url: str, **kw: float) -> Settings:
    return Settings(outboundiq_url=url, **kw)


async def test_a_dial_is_sent_with_its_key(fake: FakeOutboundIQ) -> None:
    fake.script(Reply(202, body='{"message":"dial queued"}'))
    metrics = RelayMetrics()
    async with create_client(_settings(fake.url)) as client:
        result = await Poster(client, metrics).post(DIAL, KEY)
    assert result == PostResult(202, '{"message":"dial queued"}', None, "http 202")
    assert result.seconds is not None and result.seconds > 0  # timed, for the dial's history
    (request,) = fake.requests
    assert (request.method, request.path, request.body) == ("POST", "/dials", DIAL.payload)
    assert request.bearer == KEY.get_secret_value()
    assert request.headers["content-type"] == "application/json"
    count = metrics.registry.get_sample_value("relay_forward_latency_seconds_count")
    assert count == 1


async def test_an_answer_keeps_retry_after_and_the_start_of_the_body(
    fake: FakeOutboundIQ,
) -> None:
    fake.script(Reply(503, body="e" * 5000, headers={"Retry-After": "7"}))
    async with create_client(_settings(fake.url)) as client:
        result = await Poster(client, RelayMetrics()).post(DIAL, KEY)
    assert (result.status, result.retry_after, result.error) == (503, "7", "http 503")
    assert result.body == "e" * 4000


async def test_no_listener_is_a_connection_error() -> None:
    metrics = RelayMetrics()
    async with create_client(_settings(f"http://127.0.0.1:{free_port()}")) as client:
        result = await Poster(client, metrics).post(DIAL, KEY)
    assert result == PostResult(None, "", None, "connection error (ConnectError)")
    assert metrics.registry.get_sample_value("relay_forward_latency_seconds_count") == 1


async def test_a_slow_answer_is_a_timeout(fake: FakeOutboundIQ) -> None:
    fake.script(Reply(200, delay=2.0))
    async with create_client(_settings(fake.url, forward_timeout_seconds=0.3)) as client:
        result = await Poster(client, RelayMetrics()).post(DIAL, KEY)
    assert result.status is None and result.body == "" and result.retry_after is None
    assert result.error.startswith("timeout (") and "Timeout" in result.error


async def test_the_rate_per_key_paces_one_key(fake: FakeOutboundIQ) -> None:
    """At 2 dials/s a key sends a burst of 2, then one every 0.5 s; each key has its own."""
    async with create_client(_settings(fake.url)) as client:
        poster = Poster(client, RelayMetrics(), rate_per_key=2.0)
        started = time.monotonic()
        for _ in range(3):
            await poster.post(DIAL, KEY)
        assert time.monotonic() - started >= 0.45
        other = time.monotonic()
        await poster.post(DIAL, SecretStr("oiq-poster-key-0002"))
        assert time.monotonic() - other < 0.4  # a full bucket of its own, no 0.5 s wait
    assert len(fake.requests) == 4
