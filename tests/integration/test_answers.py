"""Every answer the intake gives, pinned byte for byte on a real relay.

Status line, headers in their order, body with its key order: what a dialer reads. Only the
``date`` header (the time) and the ``rejected_id`` (random) are left out of the comparison;
``content-length`` is compared with the body actually sent. The answers given through
Starlette (``/preview``, routing refusals) frame their headers the Starlette way (extra
headers first, ``content-type`` last); the hook's own answers put ``content-type`` first.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlencode

import orjson
import pytest

from relay.obs.events import FILTER_OUTCOMES
from tests.conftest import dial_body
from tests.support import scrape
from tests.support.raw_http import Reply, exchange, request
from tests.support.relay_server import RelayThread

SOURCES = """
sources:
  crm: {auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}}
  lan: {auth: {type: none}, allow_ips: ["10.0.0.0/8"]}
  slow: {auth: {type: none}, rate_limit: 1/hour}
  legs: {auth: {type: none}, coalesce_seconds: 3600}
  ac: {mapping: aircall, auth: {type: body-token, secret: aircall-hook-token}}
  g:
    mapping: genesys
    auth: {type: none}
    options: {client_id: relay-client, client_secret: relay-client-secret}
  rc: {mapping: ringcentral, auth: {type: verification-token, secret: rc-hook-secret}}
"""
LIMITS = {
    "max_header_count": 20,
    "max_header_bytes": 4096,
    "max_body_bytes": 4096,
    "body_timeout_seconds": 0.5,
    "header_timeout_seconds": 0.5,
}
TOKEN = ("X-Relay-Token", "crm-hook-secret")
JSON_TYPE = ("Content-Type", "application/json")
CRM = [TOKEN, JSON_TYPE]
EXTRA = [(f"X-Extra-{i}", "v") for i in range(25)]
NOT_ENDED = b'{"conversationId": "0b6c7a1e-5d2f-4e0a-9b8c-1f2e3d4c5b6a", "participants": []}'
DIAL_QUERY = urlencode(dial_body(dial_id="pin-head"))

# What comes off the wire, as (status line, headers, body). In the headers, "CL" stands for
# the content-length of the body as sent.
CT, CL, CLOSE = (
    ("content-type", "application/json"),
    ("content-length", "CL"),
    ("connection", "close"),
)


def hook(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    """The hook's own framing (and the guard's, and the server's): content-type first."""
    return [CT, CL, *extra]


def starlette(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    """Starlette's ``Response`` framing: the extra headers first, content-type last."""
    return [*extra, CL, CT]


def _body(**content: Any) -> bytes:
    return orjson.dumps(content)


def error(message: str) -> bytes:
    return _body(status="error", error=message)


class Case(NamedTuple):
    """One request and the answer pinned for it."""

    name: str
    request: bytes
    status_line: bytes
    headers: list[tuple[str, str]]
    body: bytes
    read: dict[str, bool] = {}  # how to read it: head_only, until_closed


def dial(**fields: Any) -> bytes:
    return orjson.dumps(dial_body(**fields))


OK, ACCEPTED, UNPROCESSABLE = b"HTTP/1.1 200 OK", b"HTTP/1.1 202 Accepted", b"HTTP/1.1 422 Unp"
UNPROCESSABLE += b"rocessable Entity"
TOO_MANY_HEADERS = b"HTTP/1.1 431 Request Header Fields Too Large"
REJECTED_PHONE = _body(
    status="rejected",
    rejected_id="<id>",
    errors=[{"field": "prospect_phone", "problem": "not a phone number (got 'not-a-number')"}],
)
CLOSED = {"until_closed": True}
#: An Aircall call.ended from a withheld number: rejected (no prospect phone), kept, and
#: answered 200 (an Aircall source's ``rejected_status``: non-2xx disables its webhook).
AIRCALL_ANONYMOUS = orjson.dumps(
    {
        "event": "call.ended",
        "token": "aircall-hook-token",
        "data": {"id": 1, "direction": "inbound", "started_at": 1646389739,
                 "raw_digits": "anonymous", "number": {"digits": "+43 720 880079"}},
    }
)  # fmt: skip
REJECTED_KEPT = _body(
    status="rejected_kept",
    rejected_id="<id>",
    errors=[{"field": "prospect_phone", "problem": "required, but missing or empty"}],
)


def refusals(prefix: str, framing: Callable[..., list[tuple[str, str]]]) -> list[Case]:
    """What the hook and the preview both refuse (``authenticate``), at ``prefix``."""
    at = prefix.strip("/") + ": "
    return [
        Case(
            at + "unknown source",
            request("POST", prefix + "nope", CRM, b"{}"),
            b"HTTP/1.1 404 Not Found",
            framing(),
            error("unknown source 'nope'"),
        ),
        Case(
            at + "forbidden address",
            request("POST", prefix + "lan", [JSON_TYPE], b"{}"),
            b"HTTP/1.1 403 Forbidden",
            framing(),
            error("client address not allowed"),
        ),
        Case(  # the budget's one request went to the hook first
            at + "rate limited",
            request("POST", prefix + "slow", [JSON_TYPE], b"{}"),
            b"HTTP/1.1 429 Too Many Requests",
            framing(("retry-after", "<seconds>")),
            error("rate limit exceeded"),
        ),
        Case(
            at + "unauthorized",
            request("POST", prefix + "crm", [("X-Relay-Token", "wrong"), JSON_TYPE], b"{}"),
            b"HTTP/1.1 401 Unauthorized",
            framing(),
            error("unauthorized"),
        ),
        Case(
            at + "body too large (declared)",
            request("POST", prefix + "crm", CRM, length=5000),
            b"HTTP/1.1 413 Request Entity Too Large",
            framing(CLOSE),
            error("body over 4096 bytes"),
            CLOSED,
        ),
        Case(
            at + "body not received in time",
            request("POST", prefix + "crm", CRM, length=100) + b'{"dial_id": ',
            b"HTTP/1.1 408 Request Timeout",
            framing(CLOSE),
            error("body not received in time"),
            CLOSED,
        ),
        Case(
            at + "unsupported content type",
            request("POST", prefix + "crm", [TOKEN, ("Content-Type", "text/csv")], b"a,b"),
            b"HTTP/1.1 415 Unsupported Media Type",
            framing(),
            error("unsupported content type text/csv; send JSON or a form"),
        ),
    ]


# In the order they are sent.
HOOK_CASES = [
    Case("queued", request("POST", "/hooks/crm", CRM, dial(dial_id="pin-1")), ACCEPTED, hook(),
         _body(status="queued", dial_id="pin-1")),
    Case("duplicate", request("POST", "/hooks/crm", CRM, dial(dial_id="pin-1")), OK, hook(),
         _body(status="duplicate", dial_id="pin-1")),
    Case("a call's first leg", request("POST", "/hooks/legs", [JSON_TYPE], dial(dial_id="pin-4")),
         ACCEPTED, hook(), _body(status="queued", dial_id="pin-4")),
    Case("coalesced", request("POST", "/hooks/legs", [JSON_TYPE], dial(dial_id="pin-4")),
         ACCEPTED, hook(), _body(status="coalesced", dial_id="pin-4")),
    Case("ignored", request("POST", "/hooks/g", [JSON_TYPE], NOT_ENDED), OK, hook(),
         _body(status="ignored", reason="the conversation has not ended")),
    Case("validated (RingCentral's handshake)",
         request("POST", "/hooks/rc", [("Validation-Token", "a1b2-c3d4"), JSON_TYPE]), OK,
         hook(("validation-token", "a1b2-c3d4")), _body(status="validated")),
    Case("rejected", request("POST", "/hooks/crm", CRM, dial(prospect_phone="not-a-number")),
         UNPROCESSABLE, hook(), REJECTED_PHONE),
    Case("rejected, kept with a 2xx (aircall)",
         request("POST", "/hooks/ac", [JSON_TYPE], AIRCALL_ANONYMOUS), OK, hook(), REJECTED_KEPT),
    Case("HEAD never queues (no body)", request("HEAD", "/hooks/crm?" + DIAL_QUERY, [TOKEN]),
         b"HTTP/1.1 405 Method Not Allowed",
         [("allow", "<methods>"), ("content-length", "<any>"), CT], b"", {"head_only": True}),
    Case("the budget's one request",
         request("POST", "/hooks/slow", [JSON_TYPE], dial(dial_id="pin-2")), ACCEPTED, hook(),
         _body(status="queued", dial_id="pin-2")),
    *refusals("/hooks/", hook),
    Case("content encoding", request("POST", "/hooks/crm", [*CRM, ("Content-Encoding", "gzip")],
         b"{}"), b"HTTP/1.1 415 Unsupported Media Type", hook(),
         error("unsupported content type (Content-Encoding 'gzip'); send JSON or a form")),
    Case("too many headers (the hook)", request("POST", "/hooks/crm", [*CRM, *EXTRA], b"{}"),
         TOO_MANY_HEADERS, hook(CLOSE), error("more than 20 headers"), CLOSED),
    Case("too many headers (the guard, another method)",
         request("PUT", "/hooks/crm", [*CRM, *EXTRA], b"{}"), TOO_MANY_HEADERS, hook(CLOSE),
         error("more than 20 headers"), CLOSED),
    Case("headers too large (the guard, another route)",
         request("GET", "/healthz", [("X-Big", "b" * 5000)]), TOO_MANY_HEADERS, hook(CLOSE),
         error("headers over 4096 bytes"), CLOSED),
    Case("method not allowed", request("PUT", "/hooks/crm", CRM, b"{}"),
         b"HTTP/1.1 405 Method Not Allowed", starlette(("allow", "<methods>")),
         error("Method Not Allowed")),
    Case("no route (a malformed hook path)", request("POST", "/hooks/crm/extra", CRM, b"{}"),
         b"HTTP/1.1 404 Not Found", starlette(), error("Not Found")),
    Case("no route", request("GET", "/nothing-here"), b"HTTP/1.1 404 Not Found", starlette(),
         error("Not Found")),
]  # fmt: skip

PREVIEW_OK = (
    b'{"status":"ok","queued":false,"dial":{"campaign_id":"abc-123","campaign_name":"Q2 '
    b'Outbound Push","agent_name":"Jane Doe","ani":"5125550100","disposition_name":"Sale",'
    b'"prospect_phone":"5125550187","datetime":"2026-04-10 14:32:15","call_direction":'
    b'"Outbound","zip":"78701","sys_created_date_original":"2026-04-01","total_dial_attempts"'
    b':3,"skill_name":"Sales Tier 1","lead_source":"facebook-ads","dial_id":"pin-p"},'
    b'"warnings":[],"unused_keys":[]}'
)
PREVIEW_PROBLEMS = (
    b'{"status":"rejected","queued":false,"errors":[{"field":"prospect_phone","problem":'
    b'"not a phone number (got \'x\')"}],"warnings":[],"unused_keys":[]}'
)
PREVIEW_IGNORED = (
    b'{"status":"ignored","queued":false,"detail":"ignored: the conversation has not '
    b'ended","warnings":[],"unused_keys":[]}'
)
PREVIEW_CASES = [
    Case("preview: mapped", request("POST", "/preview/crm", CRM, dial(dial_id="pin-p")), OK,
         starlette(), PREVIEW_OK),
    Case("preview: problems", request("POST", "/preview/crm", CRM, dial(prospect_phone="x")),
         UNPROCESSABLE, starlette(), PREVIEW_PROBLEMS),
    Case("preview: ignored", request("POST", "/preview/g", [JSON_TYPE], NOT_ENDED), OK,
         starlette(), PREVIEW_IGNORED),
    Case("preview: validated", request("POST", "/preview/rc", [("Validation-Token", "a1b2")]),
         OK, starlette(("validation-token", "a1b2")), _body(status="validated")),
    *refusals("/preview/", starlette),
]  # fmt: skip

# The server's own refusals, before any request reaches the app: no date header.
PROTOCOL_CASES = [
    Case("request head not received in time", b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\nX-Re",
         b"HTTP/1.1 408 Request Timeout", hook(CLOSE),
         error("request head not received in time"), CLOSED),
    Case("request head too large",
         b"POST /hooks/crm HTTP/1.1\r\nHost: x\r\nX-Flood: " + b"f" * 40_000,
         TOO_MANY_HEADERS, hook(CLOSE), error("request head over 20480 bytes"), CLOSED),
]  # fmt: skip


def _normalize(body: bytes) -> bytes:
    return re.sub(rb'"rejected_id":"[^"]+"', b'"rejected_id":"<id>"', body)


def mismatch(reply: Reply, case: Case, *, dated: bool = True) -> str | None:
    """What differs between ``reply`` and the answer pinned in ``case`` (None: nothing)."""
    got = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.headers]
    dates = [v for k, v in got if k == "date"]
    if dated != (len(dates) == 1):
        return f"date headers: {dates}"
    got = [(k, v) for k, v in got if k != "date"]
    want = []
    for k, v in case.headers:
        if v == "CL":
            v = str(len(reply.body))
        elif v.startswith("<"):  # checked on its own
            v = next((g for n, g in got if n == k), v)
        want.append((k, v))
    problems = []
    if reply.status_line != case.status_line:
        problems.append(f"status line {reply.status_line!r}")
    if got != want:
        problems.append(f"headers {got}, pinned {want}")
    if _normalize(reply.body) != case.body:
        problems.append(f"body {reply.body!r}")
    return "; ".join(problems) or None


def test_every_hook_and_preview_answer_is_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """Each answer of the hook, the request guard, the router and the preview, as sent."""
    relay = start_relay(SOURCES, **LIMITS)
    problems = {}
    for case in HOOK_CASES + PREVIEW_CASES:
        reply = exchange(relay.settings.port, case.request, **case.read)
        problem = mismatch(reply, case)
        if problem:
            problems[case.name] = problem
        if case.name in ("method not allowed", "HEAD never queues (no body)"):
            allowed = set((reply.header(b"allow") or b"").decode().split(", "))
            assert allowed == {"GET", "POST"}
        if case.name.endswith("rate limited"):  # 1/hour, a moment after the one request
            assert 3590 <= int(reply.header(b"retry-after") or 0) <= 3600
    assert problems == {}


def test_the_servers_refusals_are_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """The request-head refusals the server writes itself, before the app runs."""
    relay = start_relay(SOURCES, **LIMITS)
    problems = {}
    for case in PROTOCOL_CASES:
        reply = exchange(relay.settings.port, case.request, **case.read)
        problem = mismatch(reply, case, dated=False)
        if problem:
            problems[case.name] = problem
    assert problems == {}


def test_the_connection_limit_refusal_is_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """A connection past a connection limit is answered by the server itself, at once."""
    relay = start_relay(SOURCES, max_connections_per_client=1, keep_alive_seconds=600)
    port = relay.settings.port
    with socket.create_connection(("127.0.0.1", port)) as holder:
        holder.sendall(request("GET", "/healthz"))
        assert holder.recv(65536).startswith(b"HTTP/1.1 200 OK")
        data = request("POST", "/hooks/crm", CRM, dial(dial_id="pin-busy"))
        reply = exchange(port, data, until_closed=True)
    busy = Case(
        "too many connections",
        data,
        b"HTTP/1.1 503 Service Unavailable",
        hook(("retry-after", "1"), CLOSE),
        error("too many connections; retry"),
    )
    assert mismatch(reply, busy, dated=False) is None


ADMIN_TOKEN = "admin-token-for-pins-0001"
ADMIN = ("Authorization", f"Bearer {ADMIN_TOKEN}")
UNAUTHORIZED = b"HTTP/1.1 401 Unauthorized"
ADMIN_CASES = [
    Case("admin: no token", request("GET", "/admin/events"), UNAUTHORIZED,
         starlette(("www-authenticate", "Bearer")), error("unauthorized")),
    Case("admin: another token",
         request("GET", "/admin/events", [("Authorization", "Bearer admin-token-not-this")]),
         UNAUTHORIZED, starlette(("www-authenticate", "Bearer")), error("unauthorized")),
    Case("admin: an unknown filter", request("GET", "/admin/events?outcome=sent", [ADMIN]),
         b"HTTP/1.1 400 Bad Request", starlette(),
         error(f"unknown outcome 'sent': use one of {', '.join(FILTER_OUTCOMES)}")),
]  # fmt: skip


def test_the_admin_answers_are_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """``/admin/events`` refusals; without RELAY_ADMIN_TOKEN, the bytes of no route at all."""
    relay = start_relay(SOURCES, admin_token=ADMIN_TOKEN)
    problems = {}
    for case in ADMIN_CASES:
        problem = mismatch(exchange(relay.settings.port, case.request), case)
        if problem:
            problems[case.name] = problem
    off = start_relay(SOURCES)
    no_route = Case(
        "admin: no admin token set",
        request("GET", "/admin/events", [ADMIN]),
        b"HTTP/1.1 404 Not Found",
        starlette(),
        error("Not Found"),
    )
    problem = mismatch(exchange(off.settings.port, no_route.request), no_route)
    if problem:
        problems[no_route.name] = problem
    assert problems == {}


def test_crash_and_storage_failure_answers_are_pinned(
    start_relay: Callable[..., RelayThread], monkeypatch: pytest.MonkeyPatch
) -> None:
    """500 for a relay bug, 503 when the queue cannot store (counted as the rejection it is
    when the request was to be kept in the rejected store)."""
    relay = start_relay(SOURCES)
    port = relay.settings.port
    data = request("POST", "/hooks/crm", CRM, dial(dial_id="pin-3"))

    async def broken(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(relay.runtime.queue, "enqueue", broken)
        crashed = exchange(port, data)
    relay.call(relay.runtime.queue.close())
    unavailable = exchange(port, data)
    not_kept = exchange(port, request("POST", "/hooks/crm", CRM, dial(prospect_phone="x")))
    storing = error("cannot store right now; retry")
    problems = {
        "internal error": mismatch(
            crashed,
            Case("", data, b"HTTP/1.1 500 Internal Server Error", hook(), error("internal error")),
        ),
        "unavailable": mismatch(
            unavailable, Case("", data, b"HTTP/1.1 503 Service Unavailable", hook(), storing)
        ),
        "unavailable, rejecting": mismatch(
            not_kept, Case("", data, b"HTTP/1.1 503 Service Unavailable", hook(), storing)
        ),
    }
    assert {k: v for k, v in problems.items() if v} == {}
    counts = scrape.samples(relay.url, "relay_webhooks_total")
    crm = {labels["outcome"]: value for labels, value in counts if labels["source"] == "crm"}
    assert crm == {"error": 1, "unavailable": 1, "rejected": 1}


async def _gone() -> dict[str, Any]:
    return {"type": "http.disconnect"}


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/hooks/crm", [(b"content-type", b"application/json"), (b"content-length", b"48")]),
        ("/preview/crm", [(b"content-length", b"48"), (b"content-type", b"application/json")]),
    ],
)
def test_client_gone_answer_is_pinned(
    start_relay: Callable[..., RelayThread], path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    """A client that disconnects before its body arrived is answered 400 (which it never
    reads, so this one is pinned at the relay's ASGI interface) and counted."""
    relay = start_relay(SOURCES)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-relay-token", b"crm-hook-secret"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", relay.settings.port),
        "state": {"relay": relay.runtime},
    }
    relay.call(relay.app(scope, _gone, send))
    assert sent == [
        {"type": "http.response.start", "status": 400, "headers": headers},
        {"type": "http.response.body", "body": error("client disconnected")},
    ]
    if path.startswith("/hooks/"):
        counted = scrape.value(relay.url, "relay_webhooks_total", outcome="bad_request")
        assert counted == 1


FIREHOSE_SOURCES = """
sources:
  hose: {mapping: amazon-connect, auth: {type: firehose, secret: hose-access-key}}
"""
HOSE = [
    ("X-Amz-Firehose-Access-Key", "hose-access-key"),
    ("X-Amz-Firehose-Request-Id", "req-pin-1"),
    JSON_TYPE,
]
HOSE_BATCH = b'{"requestId":"req-pin-1","timestamp":1578090901599,"records":[{"data":"e30="}]}'
TIMED = [CT, ("content-length", "<checked with the body>")]  # the body's time is not pinned
HOSE_CASES = [
    Case("firehose: delivered", request("POST", "/hooks/hose", HOSE, HOSE_BATCH), OK, TIMED,
         b'{"requestId":"req-pin-1","timestamp":<ms>}'),
    Case("firehose: unauthorized",
         request("POST", "/hooks/hose", [("X-Amz-Firehose-Request-Id", "req-pin-1"), JSON_TYPE],
                 HOSE_BATCH),
         b"HTTP/1.1 401 Unauthorized", TIMED,
         b'{"requestId":"req-pin-1","timestamp":<ms>,"errorMessage":"unauthorized"}'),
    Case("firehose: not a Firehose request", request("POST", "/hooks/hose", HOSE, b"[]"),
         b"HTTP/1.1 400 Bad Request", TIMED,
         b'{"requestId":"req-pin-1","timestamp":<ms>,'
         b'"errorMessage":"body: not a Firehose request: expected an object"}'),
]  # fmt: skip


def test_a_firehose_sources_answers_are_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """A Kinesis Data Firehose source answers in Firehose's shape: the request id echoed, the
    time in milliseconds, an errorMessage unless it is a 200 (``relay.intake.firehose``)."""
    relay = start_relay(FIREHOSE_SOURCES)
    problems = {}
    for case in HOSE_CASES:
        reply = exchange(relay.settings.port, case.request)
        assert reply.header(b"content-length") == str(len(reply.body)).encode()
        timed = re.sub(rb'"timestamp":[0-9]{13}', b'"timestamp":<ms>', reply.body)
        problem = mismatch(dataclasses.replace(reply, body=timed), case)
        if problem:
            problems[case.name] = problem
    assert problems == {}
