"""The table of the intake's answers and its renderers (the bytes are pinned on a real relay
in tests/integration/test_answers.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from relay.exceptions import (
    AuthError,
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    QueueError,
    RequestError,
    UnsupportedMediaType,
)
from relay.intake import answers
from relay.intake.answers import TABLE, json_http_error, outcome_of, rate_limited, refusal

pytestmark = pytest.mark.anyio

OPERATIONS = Path(__file__).parents[3] / "docs" / "operations.md"


def documented_outcomes() -> set[str]:
    """The outcome labels docs/operations.md lists for relay_webhooks_total."""
    row = next(
        line
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("| `relay_webhooks_total")  # the metrics table's row
    )
    listed = row.split("intake answers:")[1].split("|")[0].split(". ")[0]
    return {re.sub(r"\(.*\)", "", word).strip() for word in listed.split(",")}


def test_every_answer_is_a_row_once() -> None:
    names = [kind.name for kind in TABLE]
    assert len(names) == len(set(names))


def test_the_hooks_outcomes_are_the_documented_ones() -> None:
    """Every outcome label an answer is counted under is in docs/operations.md, and every
    documented label is some answer's."""
    outcomes = {kind.outcome for kind in TABLE if kind.outcome is not None}
    assert outcomes == documented_outcomes()


@pytest.mark.parametrize(
    ("exc", "status", "outcome", "error"),
    [
        (BodyTooLarge(1024), 413, "too_large", "body over 1024 bytes"),
        (BodyTimeout(), 408, "timeout", "body not received in time"),
        (ClientGone(), 400, "bad_request", "client disconnected"),
        (
            UnsupportedMediaType("text/csv"),
            415,
            "unsupported_media",
            "unsupported content type text/csv; send JSON or a form",
        ),
        (AuthError("authentication failed"), 401, "unauthorized", "unauthorized"),
    ],
)
def test_each_request_error_has_its_answer(
    exc: RequestError | AuthError, status: int, outcome: str, error: str
) -> None:
    answer = refusal(exc)
    assert (answer.status, answer.outcome) == (status, outcome)
    assert json.loads(answer.body) == {"status": "error", "error": error}
    closes = (b"connection", b"close") in answer.extra
    assert closes == (status in (408, 413))  # refused before the body was read


def test_an_error_without_an_answer_is_a_bug() -> None:
    with pytest.raises(TypeError, match="QueueError"):
        refusal(QueueError("full"))


def test_rate_limited_says_when_to_retry() -> None:
    """Retry-After in whole seconds, rounded up, never 0."""
    assert rate_limited(0.01).extra == ((b"retry-after", b"1"),)
    assert rate_limited(2.2).extra == ((b"retry-after", b"3"),)


def test_outcome_of_an_answer_the_hook_did_not_count() -> None:
    assert [outcome_of(s) for s in (400, 404, 405, 408, 413, 431)] == [
        "bad_request",
        "unknown_source",
        "method_not_allowed",
        "timeout",
        "too_large",
        "headers_too_large",
    ]
    assert outcome_of(500) == outcome_of(503) == "error"
    assert outcome_of(401) == "http_401"


def test_three_framings_of_one_answer() -> None:
    """Over ASGI and raw HTTP/1.1 content-type comes first; a Starlette Response puts the
    extras first. The body is the same."""
    answer = answers.TOO_LARGE(exc=BodyTooLarge(10))
    body = b'{"status":"error","error":"body over 10 bytes"}'
    assert answer.body == body
    length = (b"content-length", str(len(body)).encode())
    close = (b"connection", b"close")
    assert answer.raw_headers() == [(b"content-type", b"application/json"), length, close]
    response = answer.response()
    assert response.raw_headers == [close, length, (b"content-type", b"application/json")]
    assert (response.status_code, response.body) == (413, body)
    assert answers.HEAD_TIMEOUT().http1() == (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b'content-length: 62\r\nconnection: close\r\n\r\n{"status":"error","error":'
        b'"request head not received in time"}'
    )


async def test_send_over_asgi() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await answers.QUEUED(dial_id="d-1").send(send)
    body = b'{"status":"queued","dial_id":"d-1"}'
    assert sent == [
        {
            "type": "http.response.start",
            "status": 202,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


@pytest.mark.parametrize(
    "content",
    [
        {"status": "ok", "dial": {"total_dial_attempts": 10**25, "ani": "é\u2028\x7f\n"}},
        {"status": "ok", "n": -(2**63), "m": 2**64 - 1, "ok": True, "none": None, "list": []},
    ],
)
def test_documents_render_as_json_response_did(content: dict[str, Any]) -> None:
    """A preview's document comes out as Starlette's JSONResponse wrote it, integers past
    64 bits included (orjson refuses them)."""
    assert answers.PREVIEW.document(content).body == JSONResponse(content).body


async def test_routing_refusals_keep_starlettes_detail_and_headers() -> None:
    """404 and 405 from Starlette's router, and any other HTTPException, answer JSON."""
    allow = HTTPException(405, headers={"Allow": "GET, POST"})
    response = await json_http_error(None, allow)  # type: ignore[arg-type]
    assert response.status_code == 405
    assert response.body == b'{"status":"error","error":"Method Not Allowed"}'
    assert response.raw_headers[0] == (b"allow", b"GET, POST")
    teapot = await json_http_error(None, HTTPException(418, "short and stout"))  # type: ignore[arg-type]
    assert (teapot.status_code, teapot.body) == (
        418,
        b'{"status":"error","error":"short and stout"}',
    )
