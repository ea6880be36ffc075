"""The forwarder's HTTP client: httpx's API on the aiohttp transport, against real servers."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import uvloop

from relay.config.settings import Settings
from relay.delivery.client import ForwardClient, create_client
from relay.delivery.transport import Http1Transport
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


class _Accepts(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def _tls_server(
    tmp_path: Path, handler: type[BaseHTTPRequestHandler] = BaseHTTPRequestHandler
) -> tuple[ThreadingHTTPServer, str]:
    """An HTTPS server with a self-signed certificate (which no client should trust)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    args = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    args += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *args],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_a_trusted_tls_destination_gets_the_post(tmp_path: Path) -> None:
    """Over TLS with a certificate the client trusts, the POST goes through, twice on one
    connection (as to api.outboundiq.cloud)."""
    server, url = _tls_server(tmp_path, _Accepts)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    transport = Http1Transport(limits=httpx.Limits(max_connections=1), verify=trusted)
    client = ForwardClient(base_url=url, transport=transport, timeout=httpx.Timeout(5.0))
    try:
        async with client:
            for n in range(2):
                answer = await client.post("/dials", content=b'{"n": %d}' % n)
                assert answer.status_code == 202
                assert answer.content == b'{"n": %d}' % n
    finally:
        server.shutdown()
        server.server_close()


# --- the transport's own HTTP/1.1, against a raw server that answers exactly these bytes --------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class RawServer:
    """A real TCP server: reads each request (head and Content-Length body) and answers the
    next of ``answers`` (bytes; ``None`` closes the connection without answering; ``b""``
    answers nothing and waits). Counts connections and keeps every request's head."""

    def __init__(self, *answers: bytes | None, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.delay = delay
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                self.heads.append(head)
                await asyncio.sleep(self.delay)
                answer = self.answers.pop(0) if self.answers else OK
                if answer is None:
                    return
                if not answer:
                    await asyncio.sleep(3600)
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()


def _client(url: str, *, connections: int = 8, timeout: float = 2.0) -> ForwardClient:
    settings = Settings(
        outboundiq_url=url, forward_concurrency=connections, forward_timeout_seconds=timeout
    )
    return create_client(settings)


async def test_keep_alive_connections_are_reused() -> None:
    raw = RawServer()
    async with raw as url, _client(url) as client:
        for _ in range(5):
            assert (await client.post("/dials", content=b"{}")).status_code == 200
    assert raw.connections == 1
    head = raw.heads[0].decode()
    assert head.startswith("POST /dials HTTP/1.1\r\n")
    assert "Content-Length: 2\r\n" in head and f"Host: {url[7:]}\r\n" in head


async def test_each_post_sends_its_own_head_though_heads_are_remembered() -> None:
    """The encoded heads the transport remembers never stand in for another request's: each
    key, path and body size gets its own, whatever was sent before."""
    raw = RawServer()
    posts = [
        ("/dials", b'{"a":1}', "Bearer key-one"),
        ("/dials", b'{"a":1}', "Bearer key-two"),
        ("/dials", b'{"a":12}', "Bearer key-one"),
        ("/other", b'{"a":1}', "Bearer key-one"),
        ("/dials", b'{"a":1}', "Bearer key-one"),
    ]
    async with raw as url, _client(url) as client:
        for path, body, key in posts:
            response, _ = await client.send(path, content=body, headers={"Authorization": key})
            assert response.status_code == 200
    for head, (path, body, key) in zip(raw.heads, posts, strict=True):
        text = head.decode()
        assert text.startswith(f"POST {path} HTTP/1.1\r\n")
        assert f"Authorization: {key}\r\n" in text
        assert f"Content-Length: {len(body)}\r\n" in text


async def test_connections_never_exceed_the_limit() -> None:
    raw = RawServer(delay=0.05)
    async with raw as url, _client(url, connections=2) as client:
        answers = await asyncio.gather(*(client.post("/dials", content=b"{}") for _ in range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert raw.most_open <= 2 and raw.connections == 2


async def test_answers_framed_by_chunks_or_by_the_close_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    raw = RawServer(chunked, until_close)
    async with raw as url, _client(url) as client:
        first = await client.post("/dials", content=b"{}")
        second = await client.post("/dials", content=b"{}")
        third = await client.post("/dials", content=b"{}")
    assert (first.status_code, first.content, first.reason_phrase) == (503, b"abcde", "Busy")
    assert (second.status_code, second.content) == (200, b"until the end")
    assert third.content == b"ok"
    assert raw.connections == 2  # the close-framed answer ended its connection


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    async with RawServer(b"SSH-2.0-OpenSSH\r\n\r\n") as url, _client(url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/dials", content=b"{}")


async def test_a_stalled_answer_is_a_read_timeout() -> None:
    stalled = b""  # the server reads the request and never answers
    async with RawServer(stalled) as url, _client(url, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/dials", content=b"{}")


async def test_the_read_timeout_holds_for_each_exchange_on_a_kept_connection() -> None:
    """The connection's one read timer outlives exchanges: answers that each come within the
    timeout, over several timeouts in all, are no timeout; a stalled answer on the same
    connection later still is one, about the timeout after it was sent."""
    raw = RawServer(OK, OK, OK, OK, OK, b"", delay=0.1)
    async with raw as url, _client(url, timeout=0.3) as client:
        for _ in range(5):  # 0.5 s on one connection
            assert (await client.post("/dials", content=b"{}")).status_code == 200
        await asyncio.sleep(0.4)  # idle past the timer: it ends, the next POST sets another
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await asyncio.wait_for(client.post("/dials", content=b"{}"), 3)
        waited = time.monotonic() - started
    assert raw.connections == 1
    assert 0.25 < waited < 1.0


async def test_a_connection_closed_mid_answer_is_a_read_error() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly part"
    async with RawServer(cut) as url, _client(url) as client:
        with pytest.raises(httpx.ReadError):
            await client.post("/dials", content=b"{}")


async def test_a_header_with_a_line_break_is_never_sent() -> None:
    raw = RawServer()
    async with raw as url, _client(url) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.post("/dials", content=b"{}", headers={"Authorization": "a\r\nX-Evil: 1"})
    assert raw.heads == []


def test_the_transport_runs_on_uvloop() -> None:
    """The relay's server runs uvloop (whose transports are not asyncio's classes)."""

    async def round_trip() -> tuple[int, bytes, int]:
        raw = RawServer()
        async with raw as url, _client(url) as client:
            first = await client.post("/dials", content=b"{}")
            await client.post("/dials", content=b"{}")
        return first.status_code, first.content, raw.connections

    assert uvloop.run(round_trip()) == (200, b"ok", 1)


async def test_a_base_url_with_a_path_keeps_it() -> None:
    """RELAY_OUTBOUNDIQ_URL may carry a path prefix: the POST goes under it, as with httpx."""
    raw = RawServer()
    async with raw as url, _client(url + "/v1/") as client:
        await client.post("/dials", content=b"{}")
    assert raw.heads[0].startswith(b"POST /v1/dials HTTP/1.1\r\n")
