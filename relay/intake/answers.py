"""Every answer the intake gives, and the one place they are rendered.

Each row of the table is a ``Kind``: the HTTP status, the ``outcome`` label it is counted
under in ``relay_webhooks_total`` (None: not counted there), the JSON body and the headers.
Error bodies are ``{"status": "error", "error": <text>}``; the others ``{"status": <word>,
...fields}``, or the preview's own document. Every body is JSON, rendered by orjson; the
headers are ``content-type``, ``content-length`` and the row's extras:

======================  ======  ===================  ==========================================
row                     status  outcome              body, extra headers
======================  ======  ===================  ==========================================
QUEUED                  202     queued               ``queued``, ``dial_id``
DUPLICATE               200     duplicate            ``duplicate``, ``dial_id``
COALESCED               202     coalesced            ``coalesced``, ``dial_id`` (a later leg)
IGNORED                 200     ignored              ``ignored``, ``reason``
VALIDATED               200     validated            ``validated``; ``Validation-Token`` echoed
BATCH_STORED            200     batch                a Firehose batch stored: its counts
BAD_DELIVERY            400     bad_request          not a Firehose request (the problem)
REJECTED                422     rejected             ``rejected``, ``rejected_id``, ``errors``
REJECTED_KEPT           200     rejected             ``rejected_kept``, the same fields (a 2xx
                                                     wanted: ``rejected_status``, Aircall)
CLIENT_GONE             400     bad_request          client disconnected (``ClientGone``)
UNAUTHORIZED            401     unauthorized         unauthorized (``AuthError``)
FORBIDDEN_IP            403     forbidden_ip         client address not allowed
UNKNOWN_SOURCE          404     unknown_source       unknown source 'x'
NO_ROUTE                404     unknown_source       Starlette's detail: Not Found
METHOD_NOT_ALLOWED      405     method_not_allowed   Starlette's detail; ``Allow``
BODY_TIMEOUT            408     timeout              (``BodyTimeout``); ``Connection: close``
TOO_LARGE               413     too_large            (``BodyTooLarge``); ``Connection: close``
UNSUPPORTED_MEDIA       415     unsupported_media    (``UnsupportedMediaType``)
RATE_LIMITED            429     rate_limited         rate limit exceeded; ``Retry-After``
HEADERS_TOO_LARGE       431     headers_too_large    the header problem; ``Connection: close``
INTERNAL_ERROR          500     error                internal error (a relay bug, logged)
UNAVAILABLE             503     unavailable          cannot store right now; retry
UNAVAILABLE_REJECTING   503     rejected             the same, when keeping a rejected request
HEAD_TIMEOUT            408     (none)               the server's refusal; ``Connection: close``
HEAD_TOO_LARGE          431     (none)               the server's refusal; ``Connection: close``
TOO_MANY_CONNECTIONS    503     (none)               over a connection limit; ``Retry-After``
PREVIEW                 200     (none)               the preview (``relay.core.preview``)
PREVIEW_PROBLEMS        422     (none)               the preview, with its problems
ADMIN_UNAUTHORIZED      401     (none)               unauthorized; ``WWW-Authenticate: Bearer``
BAD_FILTER              400     (none)               the filter's problem (``/admin/events``)
======================  ======  ===================  ==========================================

A source with ``auth: {type: firehose}`` (Kinesis Data Firehose) gets every answer of the
hook's with the body Firehose reads instead (``relay.intake.firehose.as_firehose``):
``{"requestId", "timestamp"}``, plus ``errorMessage`` (the error text) unless it is a 200.

The ``/admin/...`` routes (``relay.intake.admin``) answer ``NO_ROUTE`` while
``RELAY_ADMIN_TOKEN`` is unset: the same bytes as a route that does not exist.

An ``Answer`` is sent three ways, each as it always was on the wire: straight over ASGI by
the hook and the request guard (``send``: ``content-type`` first), as a Starlette
``Response`` by the preview and the router's refusals (``response``: Starlette puts the
extras first and ``content-type`` last), and as raw HTTP/1.1 by the server when it refuses a
request head (``http1``). ``tests/integration/test_answers.py`` pins every row's bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Send

from relay.exceptions import (
    AuthError,
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    RelayError,
    UnsupportedMediaType,
)

__all__ = [
    "HOOK_PREFIX",
    "TABLE",
    "Answer",
    "Kind",
    "json_http_error",
    "outcome_of",
    "rate_limited",
    "refusal",
    "retry_after_header",
]

#: Where the webhooks arrive: ``POST|GET /hooks/<source>``. Every answer under it is counted.
HOOK_PREFIX = "/hooks/"

_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")


def _dumps(content: dict[str, Any]) -> bytes:
    """JSON as orjson writes it; what orjson refuses (an integer past 64 bits, which a preview
    can show) as Starlette's ``JSONResponse`` writes it (the same bytes for everything else)."""
    try:
        return orjson.dumps(content)
    except TypeError:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode()


class Answer:
    """One rendered answer: status, JSON body, extra headers, and its ``outcome`` label."""

    __slots__ = ("body", "extra", "outcome", "status")

    def __init__(
        self,
        status: int,
        outcome: str | None,
        body: bytes,
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.status = status
        self.outcome = outcome
        self.body = body
        self.extra = extra

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """``content-type``, ``content-length``, then the extras (the hook's framing)."""
        headers = [_JSON, (b"content-length", str(len(self.body)).encode())]
        if self.extra:
            headers.extend(self.extra)
        return headers

    async def send(self, send: Send) -> None:
        """Send it over ASGI, as the hook and the request guard do."""
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.raw_headers()}
        )
        await send({"type": "http.response.body", "body": self.body})

    def response(self) -> Response:
        """A Starlette ``Response`` (extras first, ``content-type`` last), for routes."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.extra}
        return Response(
            self.body, status_code=self.status, headers=headers, media_type="application/json"
        )

    def http1(self) -> bytes:
        """The whole HTTP/1.1 response, for the server's refusals written to the transport."""
        head = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}".encode()]
        head += [name + b": " + value for name, value in self.raw_headers()]
        return b"\r\n".join(head) + b"\r\n\r\n" + self.body


@dataclass(frozen=True, slots=True)
class Kind:
    """A row of the table: one answer the intake gives.

    ``error`` is an error answer's text, a ``str.format`` template of the fields it is given
    (None: the body is ``{"status": name, ...fields}``); ``close`` adds ``Connection: close``
    (answers given before the body was read: the rest of it is not worth waiting for);
    ``raised_by`` is the exception this is the answer to, if any (``refusal``).
    """

    name: str
    status: int
    outcome: str | None
    error: str | None = None
    close: bool = False
    raised_by: type[RelayError] | None = None

    def __call__(self, *extra: tuple[bytes, bytes], **fields: Any) -> Answer:
        """This answer with ``fields`` (in the body, or in the error text) and ``extra``
        headers."""
        if self.error is None:  # the hook's hot path: its fields are text, which orjson writes
            body = orjson.dumps({"status": self.name, **fields})
        else:
            body = _dumps({"status": "error", "error": self.error.format(**fields)})
        return Answer(self.status, self.outcome, body, (*extra, _CLOSE) if self.close else extra)

    def document(self, content: dict[str, Any], *extra: tuple[bytes, bytes]) -> Answer:
        """This answer with ``content`` as the whole body."""
        headers = (*extra, _CLOSE) if self.close else extra
        return Answer(self.status, self.outcome, _dumps(content), headers)


QUEUED = Kind("queued", 202, "queued")
DUPLICATE = Kind("duplicate", 200, "duplicate")
#: A later leg of a call, merged into the dial held for its window (``coalesce_seconds``).
COALESCED = Kind("coalesced", 202, "coalesced")
IGNORED = Kind("ignored", 200, "ignored")
#: A subscription's set-up handshake (RingCentral's ``Validation-Token``), echoed; nothing stored.
VALIDATED = Kind("validated", 200, "validated")
#: A Kinesis Data Firehose batch stored (``relay.intake.firehose``; its body is Firehose's).
BATCH_STORED = Kind("batch_stored", 200, "batch")
#: A Firehose request whose envelope is not one (no ``requestId``, no ``records``).
BAD_DELIVERY = Kind("bad_delivery", 400, "bad_request", "{problem}")
REJECTED = Kind("rejected", 422, "rejected")
#: The same, when the source's mapping sets ``rejected_status = 200``: a sender that disables
#: its webhook after non-2xx answers (Aircall) must not count a kept request as a failure.
REJECTED_KEPT = Kind("rejected_kept", 200, "rejected")
CLIENT_GONE = Kind("client_gone", 400, "bad_request", "client disconnected", raised_by=ClientGone)
UNAUTHORIZED = Kind("unauthorized", 401, "unauthorized", "unauthorized", raised_by=AuthError)
FORBIDDEN_IP = Kind("forbidden_ip", 403, "forbidden_ip", "client address not allowed")
UNKNOWN_SOURCE = Kind("unknown_source", 404, "unknown_source", "unknown source {name!r}")
NO_ROUTE = Kind("no_route", 404, "unknown_source", "{detail}")
METHOD_NOT_ALLOWED = Kind("method_not_allowed", 405, "method_not_allowed", "{detail}")
BODY_TIMEOUT = Kind(
    "body_timeout", 408, "timeout", "body not received in time", True, raised_by=BodyTimeout
)
TOO_LARGE = Kind(
    "too_large", 413, "too_large", "body over {exc.limit} bytes", True, raised_by=BodyTooLarge
)
UNSUPPORTED_MEDIA = Kind(
    "unsupported_media",
    415,
    "unsupported_media",
    "unsupported content type {exc}; send JSON or a form",
    raised_by=UnsupportedMediaType,
)
RATE_LIMITED = Kind("rate_limited", 429, "rate_limited", "rate limit exceeded")
HEADERS_TOO_LARGE = Kind("headers_too_large", 431, "headers_too_large", "{problem}", True)
INTERNAL_ERROR = Kind("internal_error", 500, "error", "internal error")
UNAVAILABLE = Kind("unavailable", 503, "unavailable", "cannot store right now; retry")
#: The rejected store failed: the same answer, counted as the rejection it was.
UNAVAILABLE_REJECTING = Kind("unavailable_rejecting", 503, "rejected", UNAVAILABLE.error)
HEAD_TIMEOUT = Kind("head_timeout", 408, None, "request head not received in time", True)
HEAD_TOO_LARGE = Kind("head_too_large", 431, None, "request head over {limit} bytes", True)
TOO_MANY_CONNECTIONS = Kind("too_many_connections", 503, None, "too many connections; retry", True)
PREVIEW = Kind("preview", 200, None)
PREVIEW_PROBLEMS = Kind("preview_problems", 422, None)
#: ``/admin/...`` without the admin token (``RELAY_ADMIN_TOKEN``), or with another.
ADMIN_UNAUTHORIZED = Kind("admin_unauthorized", 401, None, "unauthorized")
#: ``/admin/events`` with a filter it does not know.
BAD_FILTER = Kind("bad_filter", 400, None, "{problem}")

#: Every answer the intake gives.
TABLE: tuple[Kind, ...] = (
    QUEUED,
    DUPLICATE,
    COALESCED,
    IGNORED,
    VALIDATED,
    BATCH_STORED,
    BAD_DELIVERY,
    REJECTED,
    REJECTED_KEPT,
    CLIENT_GONE,
    UNAUTHORIZED,
    FORBIDDEN_IP,
    UNKNOWN_SOURCE,
    NO_ROUTE,
    METHOD_NOT_ALLOWED,
    BODY_TIMEOUT,
    TOO_LARGE,
    UNSUPPORTED_MEDIA,
    RATE_LIMITED,
    HEADERS_TOO_LARGE,
    INTERNAL_ERROR,
    UNAVAILABLE,
    UNAVAILABLE_REJECTING,
    HEAD_TIMEOUT,
    HEAD_TOO_LARGE,
    TOO_MANY_CONNECTIONS,
    PREVIEW,
    PREVIEW_PROBLEMS,
    ADMIN_UNAUTHORIZED,
    BAD_FILTER,
)

_RAISED = {kind.raised_by: kind for kind in TABLE if kind.raised_by is not None}

#: The answers the request guard may see a route send uncounted: Starlette's routing
#: refusals, and the refusals that come before a route's own logic.
_UNCOUNTED = {
    kind.status: kind.outcome
    for kind in (
        CLIENT_GONE,
        NO_ROUTE,
        METHOD_NOT_ALLOWED,
        BODY_TIMEOUT,
        TOO_LARGE,
        HEADERS_TOO_LARGE,
    )
    if kind.outcome is not None
}


def refusal(exc: RelayError) -> Answer:
    """The answer to a request error (``RequestError``) or a failed authentication."""
    for cls in type(exc).__mro__:
        kind = _RAISED.get(cls)
        if kind is not None:
            return kind(exc=exc)
    raise TypeError(f"no answer for {type(exc).__name__}") from exc


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, never 0 (a 0 invites an immediate retry storm)."""
    return str(max(1, math.ceil(seconds)))


def rate_limited(wait: float) -> Answer:
    """429, with ``Retry-After`` for ``wait`` seconds."""
    return RATE_LIMITED((b"retry-after", retry_after_header(wait).encode()))


def outcome_of(status: int) -> str:
    """The ``relay_webhooks_total`` outcome of an answer given outside the hook's own logic."""
    return _UNCOUNTED.get(status, "error" if status >= 500 else f"http_{status}")


def _routing_kind(status: int) -> Kind:
    if status == NO_ROUTE.status:
        return NO_ROUTE
    if status == METHOD_NOT_ALLOWED.status:
        return METHOD_NOT_ALLOWED
    return Kind("http_error", status, outcome_of(status), "{detail}")


async def json_http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404 no route, 405 wrong method) as JSON, like ours."""
    assert isinstance(exc, HTTPException)
    headers = (exc.headers or {}).items()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return _routing_kind(exc.status_code)(*extra, detail=exc.detail).response()
