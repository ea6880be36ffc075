"""The forwarder's HTTP client: httpx's API on the aiohttp transport, against real servers."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from relay.config.settings import Settings
from relay.delivery.client import create_client
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


def _tls_server(tmp_path: Path) -> tuple[ThreadingHTTPServer, str]:
    """An HTTPS server with a self-signed certificate (which no client should trust)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    args = ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *args],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_certificates_are_verified(tmp_path: Path) -> None:
    """An HTTPS destination with an untrusted certificate is refused (ConnectError)."""
    server, url = _tls_server(tmp_path)
    try:
        async with create_client(_settings(url)) as client:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.post("/dials", content=b"{}")
    finally:
        server.shutdown()
        server.server_close()
