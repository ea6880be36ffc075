"""Connection limits over a real server: in all (``RELAY_MAX_CONNECTIONS``) and per client
address (``RELAY_MAX_CONNECTIONS_PER_CLIENT``), each refusal counted, logged once per client."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import orjson
from structlog.testing import capture_logs

from tests.conftest import dial_body
from tests.support import scrape
from tests.support.raw_http import Reply, parse, request
from tests.support.relay_server import RelayThread

SOURCES = "sources:\n  open: {auth: {type: none}}\n"
#: Held connections must outlive the test: no keep-alive or head timeout may close them.
PATIENT = {"keep_alive_seconds": 600, "header_timeout_seconds": 600}
BUSY = orjson.dumps({"status": "error", "error": "too many connections; retry"})


def connect(relay: RelayThread, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", relay.settings.port), source_address=(source, 0))
    sock.settimeout(10)
    return sock


@contextmanager
def held(relay: RelayThread, source: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` keep-alive connections from ``source``, each past one answered request (so
    the relay has admitted it), held open until the block ends; then closed, and the relay
    has let go of them (it closed its side) when the block is left."""
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            sock = stack.enter_context(connect(relay, source))
            sock.sendall(request("GET", "/healthz"))
            assert answer(sock).status_line == b"HTTP/1.1 200 OK"
            socks.append(sock)
        yield socks
        for sock in socks:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass


def answer(sock: socket.socket) -> Reply:
    """One answer read off ``sock``."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        data += chunk
        reply, _ = parse(data)
        if reply is not None:
            return reply
        assert chunk, f"closed after {data!r}"


def post_dial(relay: RelayThread, source: str, dial_id: str) -> tuple[int, bytes]:
    """A webhook on a fresh connection from ``source``: the answer's status and body."""
    with connect(relay, source) as sock:
        body = orjson.dumps(dial_body(dial_id=dial_id))
        sock.sendall(request("POST", "/hooks/open", [("Content-Type", "application/json")], body))
        reply = answer(sock)
    return int(reply.status_line.split()[1]), reply.body


def metrics(relay: RelayThread, source: str) -> Callable[..., float]:
    """The relay's counters, read from ``source`` (an address with a free slot)."""
    transport = httpx.HTTPTransport(local_address=source)

    def value(name: str, **labels: str) -> float:
        with httpx.Client(transport=transport) as client:
            return scrape.value(relay.url, name, client=client, **labels)

    return value


def test_one_client_cannot_hold_every_slot(start_relay: Callable[..., RelayThread]) -> None:
    """Past RELAY_MAX_CONNECTIONS_PER_CLIENT connections from one address, its next ones are
    refused 503 (before any request is read); other addresses are served; each refusal is
    counted, and logged once for the client, not once per connection."""
    relay = start_relay(SOURCES, max_connections_per_client=2, **PATIENT)
    with capture_logs() as logs, held(relay, "127.0.0.1", 2):
        refused = [post_dial(relay, "127.0.0.1", f"busy-{i}") for i in range(3)]
        served = post_dial(relay, "127.0.0.2", "other-address")
    assert refused == [(503, BUSY)] * 3
    assert served[0] == 202
    read = metrics(relay, "127.0.0.3")
    assert read("relay_connections_refused_total", reason="client_connections") == 3
    assert read("relay_webhooks_total", outcome="queued") == 1  # nothing else reached the app
    lines = [e for e in logs if e["event"] == "connections_refused"]
    assert lines == [
        {"event": "connections_refused", "log_level": "warning", "reason": "client_connections",
         "client": "127.0.0.1", "limit": 2, "not_logged": 0}
    ]  # fmt: skip
    assert post_dial(relay, "127.0.0.1", "after")[0] == 202  # its slots are free again


def test_connections_from_trusted_proxies_have_no_per_client_limit(
    start_relay: Callable[..., RelayThread],
) -> None:
    """A trusted proxy carries many clients' connections: only the total limit applies."""
    relay = start_relay(
        SOURCES, max_connections_per_client=1, trusted_proxies="127.0.0.1/32", **PATIENT
    )
    with held(relay, "127.0.0.1", 3), held(relay, "127.0.0.2", 1):
        assert post_dial(relay, "127.0.0.1", "through-proxy")[0] == 202
        assert post_dial(relay, "127.0.0.2", "direct") == (503, BUSY)


def test_the_total_limit_is_counted(start_relay: Callable[..., RelayThread]) -> None:
    """At RELAY_MAX_CONNECTIONS open connections every new one is refused 503, whoever it
    is from, and counted (uvicorn's own limit answered uncounted)."""
    relay = start_relay(SOURCES, max_connections=3, max_connections_per_client=0, **PATIENT)
    with held(relay, "127.0.0.1", 2), held(relay, "127.0.0.2", 1):
        for source in ("127.0.0.1", "127.0.0.3"):
            assert post_dial(relay, source, "full") == (503, BUSY)
    assert post_dial(relay, "127.0.0.3", "free-again")[0] == 202
    read = metrics(relay, "127.0.0.4")
    assert read("relay_connections_refused_total", reason="max_connections") == 2
