"""Intake limits over a real server: allow-lists, rate limits, header, body and depth limits."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import orjson

from tests.conftest import dial_body
from tests.support import scrape
from tests.support.relay_server import RelayThread

SOURCES = """
sources:
  crm: {auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}}
  lan: {auth: {type: none}, allow_ips: ["10.0.0.0/8"]}
  local: {auth: {type: none}, allow_ips: "127.0.0.1, ::1"}
  vendor: {auth: {type: none}, allow_ips: ["203.0.113.0/24"]}
  slow: {auth: {type: none}, rate_limit: 2/min}
"""
CRM = {"X-Relay-Token": "crm-hook-secret"}


def webhooks(relay: RelayThread, **labels: str) -> float:
    return scrape.value(relay.url, "relay_webhooks_total", **labels)


def test_allow_list_refuses_other_addresses(start_relay: Callable[..., RelayThread]) -> None:
    """A source with `allow_ips` answers 403 to any other address, and counts it."""
    relay = start_relay(SOURCES)
    r = httpx.post(f"{relay.url}/hooks/lan", json=dial_body())
    assert r.status_code == 403
    assert r.json() == {"status": "error", "error": "client address not allowed"}
    assert webhooks(relay, source="lan", outcome="forbidden_ip") == 1
    assert httpx.post(f"{relay.url}/hooks/local", json=dial_body()).status_code == 202


def test_forwarded_for_ignored_without_trusted_proxies(
    start_relay: Callable[..., RelayThread],
) -> None:
    """X-Forwarded-For from a peer that is not a trusted proxy is ignored."""
    relay = start_relay(SOURCES)
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    r = httpx.post(f"{relay.url}/hooks/vendor", json=dial_body(), headers=spoofed)
    assert r.status_code == 403


XFF_CASES = [
    (["203.0.113.7"], 202),
    (["203.0.113.7, 127.0.0.1"], 202),  # through two trusted proxies
    (["203.0.113.7", "127.0.0.1"], 202),  # the same, as two headers
    (["198.51.100.1"], 403),
    (["203.0.113.7, 198.51.100.1"], 403),  # the caller wrote the left entry itself
    (["not-an-address"], 403),
    ([], 403),  # no header: the proxy itself is the client
]


def test_forwarded_for_believed_from_trusted_proxies(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Behind a trusted proxy the right-most untrusted X-Forwarded-For entry is the client."""
    relay = start_relay(SOURCES, trusted_proxies="127.0.0.0/8")
    for i, (forwarded, status) in enumerate(XFF_CASES):
        headers = [("X-Forwarded-For", value) for value in forwarded]
        r = httpx.post(
            f"{relay.url}/hooks/vendor", json=dial_body(dial_id=f"x{i}"), headers=headers
        )
        assert r.status_code == status, forwarded


def test_unauthorized_log_names_the_forwarded_client(
    start_relay: Callable[..., RelayThread],
) -> None:
    """A failed auth is logged with the source and the client address behind the proxy."""
    from structlog.testing import capture_logs

    relay = start_relay(SOURCES, trusted_proxies=["127.0.0.1"])
    with capture_logs() as logs:
        r = httpx.post(
            f"{relay.url}/hooks/crm",
            json=dial_body(),
            headers={"X-Relay-Token": "presented-wrong-token", "X-Forwarded-For": "192.0.2.9"},
        )
    assert r.status_code == 401
    failed = [e for e in logs if e["event"] == "webhook_unauthorized"]
    assert failed == [
        {"event": "webhook_unauthorized", "log_level": "warning", "source": "crm",
         "client": "192.0.2.9", "kind": "hook"}
    ]  # fmt: skip
    assert "presented-wrong-token" not in repr(logs)


def test_rate_limit_answers_429_with_retry_after(
    start_relay: Callable[..., RelayThread],
) -> None:
    """Past its budget a source gets 429 with Retry-After; other sources are unaffected."""
    relay = start_relay(SOURCES)
    for i in range(2):
        ok = httpx.post(f"{relay.url}/hooks/slow", json=dial_body(dial_id=f"rl-{i}"))
        assert ok.status_code == 202
    limited = httpx.post(f"{relay.url}/hooks/slow", json=dial_body(dial_id="rl-2"))
    assert limited.status_code == 429
    assert limited.json() == {"status": "error", "error": "rate limit exceeded"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert webhooks(relay, source="slow", outcome="rate_limited") == 1
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202


def test_too_many_headers_431(start_relay: Callable[..., RelayThread]) -> None:
    """More headers than RELAY_MAX_HEADER_COUNT is a JSON 431, counted for the source."""
    relay = start_relay(SOURCES, max_header_count=20)
    headers = [(f"X-Extra-{i}", "v") for i in range(30)]
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=[*CRM.items(), *headers])
    assert r.status_code == 431
    assert r.json()["error"] == "more than 20 headers"
    assert webhooks(relay, source="crm", outcome="headers_too_large") == 1


def test_headers_too_large_431(start_relay: Callable[..., RelayThread]) -> None:
    """Headers over RELAY_MAX_HEADER_BYTES in total are a JSON 431."""
    relay = start_relay(SOURCES, max_header_bytes=4096)
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers={**CRM, "X-Big": "b" * 6000})
    assert r.status_code == 431
    assert r.json()["error"] == "headers over 4096 bytes"


def _raw(relay: RelayThread, data: bytes, *, read_timeout: float = 10.0) -> bytes:
    """Send raw bytes on a fresh connection; everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", relay.settings.port)) as sock:
        sock.settimeout(read_timeout)
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_endless_request_head_is_cut_at_the_protocol(
    start_relay: Callable[..., RelayThread],
) -> None:
    """A request head past the limit is answered 431 and closed before it is buffered."""
    relay = start_relay(SOURCES, max_header_bytes=1024)
    head = b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: " + b"f" * 200_000
    answer = _raw(relay, head)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert scrape.value(relay.url, "relay_connections_refused_total", reason="head_too_large") == 1


def test_slow_request_head_times_out(start_relay: Callable[..., RelayThread]) -> None:
    """A client that never finishes its request head gets 408 and is disconnected."""
    relay = start_relay(SOURCES, header_timeout_seconds=0.3)
    answer = _raw(relay, b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\nX-Relay-To")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request head not received in time" in answer
    assert scrape.value(relay.url, "relay_connections_refused_total", reason="header_timeout") == 1


def test_idle_connection_is_closed_quietly(start_relay: Callable[..., RelayThread]) -> None:
    """A connection that sends nothing is closed without an answer after the head timeout."""
    relay = start_relay(SOURCES, header_timeout_seconds=0.3)
    assert _raw(relay, b"") == b""


def _read_answer(sock: socket.socket) -> bytes:
    """One HTTP answer (head and a Content-Length body) from a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_head_timeout_restarts_with_every_request(
    start_relay: Callable[..., RelayThread],
) -> None:
    """The head timeout counts from the end of the previous answer, not from the connect:
    a keep-alive connection busy for several timeouts is never cut, and a slow head after
    its last answer is refused a timeout after that answer."""
    timeout = 0.4
    relay = start_relay(SOURCES, header_timeout_seconds=timeout)
    body = orjson.dumps(dial_body())
    request = (
        b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\nX-Relay-Token: crm-hook-secret\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", relay.settings.port)) as sock:
        sock.settimeout(10)
        started = time.monotonic()
        answers = 0
        while time.monotonic() - started < 3 * timeout:  # several timeouts' worth
            sock.sendall(request)
            assert _read_answer(sock).split(b" ")[1] in (b"200", b"202")
            answered = time.monotonic()
            answers += 1
            time.sleep(timeout / 3)
        assert answers >= 6
        sock.sendall(b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\n")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        waited = time.monotonic() - answered
    assert rest.startswith(b"HTTP/1.1 408 ")
    assert timeout * 0.7 <= waited < timeout * 5


def test_slow_body_times_out(start_relay: Callable[..., RelayThread]) -> None:
    """A body that does not arrive within RELAY_BODY_TIMEOUT_SECONDS is a 408, counted."""
    relay = start_relay(SOURCES, body_timeout_seconds=0.3)
    head = (
        b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\nX-Relay-Token: crm-hook-secret\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    answer = _raw(relay, head + b'{"dial_id": ')
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"body not received in time" in answer
    assert webhooks(relay, source="crm", outcome="timeout") == 1


def test_server_still_serves_after_abuse(start_relay: Callable[..., RelayThread]) -> None:
    """After oversized and slow clients, the relay keeps accepting webhooks."""
    relay = start_relay(SOURCES, header_timeout_seconds=0.3, max_header_bytes=1024)
    _raw(relay, b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 100_000)
    _raw(relay, b"GET / HTTP/1.1\r\n")
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
    assert r.status_code == 202


def test_json_nested_too_deep_is_422_and_kept(start_relay: Callable[..., RelayThread]) -> None:
    """JSON nested deeper than RELAY_MAX_JSON_DEPTH is a clear 422, kept for replay."""
    relay = start_relay(SOURCES)
    for depth in (33, 200, 1000):
        body = b'{"a": ' * depth + b"1" + b"}" * depth
        r = httpx.post(
            f"{relay.url}/hooks/crm",
            content=body,
            headers={**CRM, "Content-Type": "application/json"},
        )
        assert r.status_code == 422
        problem = {"field": "body", "problem": "JSON nested deeper than 32 levels"}
        assert r.json()["errors"] == [problem]
        assert relay.call(relay.runtime.queue.get_rejected(r.json()["rejected_id"])) is not None


def test_encoded_body_is_415(start_relay: Callable[..., RelayThread]) -> None:
    """A compressed body (Content-Encoding) is refused with 415 rather than misread."""
    relay = start_relay(SOURCES)
    r = httpx.post(
        f"{relay.url}/hooks/crm",
        content=orjson.dumps(dial_body()),
        headers={**CRM, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 415
    assert "Content-Encoding" in r.json()["error"]


def test_routing_refusals_are_json_and_counted(start_relay: Callable[..., RelayThread]) -> None:
    """405 and malformed hook paths answer JSON and are counted in relay_webhooks_total."""
    relay = start_relay(SOURCES)
    put = httpx.put(f"{relay.url}/hooks/crm", headers=CRM)
    assert put.status_code == 405
    assert put.json() == {"status": "error", "error": "Method Not Allowed"}
    nested = httpx.post(f"{relay.url}/hooks/crm/extra", json={})
    assert nested.status_code == 404
    assert nested.json() == {"status": "error", "error": "Not Found"}
    assert webhooks(relay, source="crm", outcome="method_not_allowed") == 1
    assert webhooks(relay, source="_unknown", outcome="unknown_source") == 1
