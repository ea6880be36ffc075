"""Intake answers every documented status, over a real uvicorn server."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest

from relay.app.heap import YOUNG_THRESHOLD
from relay.queue.base import DialQueue
from tests.conftest import dial_body
from tests.support import scrape
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


def test_202_queued_then_200_duplicate(start_relay: Callable[..., RelayThread]) -> None:
    """A dial is queued once; the same dial_id again is answered 200 duplicate."""
    relay = start_relay()
    first = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
    assert first.status_code == 202
    assert first.json() == {"status": "queued", "dial_id": "call-0001"}
    again = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "dial_id": "call-0001"}


def test_dedupe_window_is_configurable(start_relay: Callable[..., RelayThread]) -> None:
    """With a zero dedupe window the same dial_id is queued again."""
    relay = start_relay(dedupe_window_seconds=0)
    for _ in range(2):
        r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
        assert r.status_code == 202


def test_404_unknown_source(start_relay: Callable[..., RelayThread]) -> None:
    """An unknown source name is a 404 saying so."""
    relay = start_relay()
    r = httpx.post(f"{relay.url}/hooks/nope", json=dial_body(), headers=CRM)
    assert r.status_code == 404
    assert "nope" in r.json()["error"]


@pytest.mark.parametrize(
    "headers", [{}, {"X-Relay-Token": "wrong"}, {"X-Relay-Token": "crm-hook-secre"}]
)
def test_401_failed_auth(start_relay: Callable[..., RelayThread], headers: dict[str, str]) -> None:
    """Missing or wrong secrets are a 401 that says nothing more."""
    relay = start_relay()
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=headers)
    assert r.status_code == 401
    assert r.json() == {"status": "error", "error": "unauthorized"}


def test_bearer_and_query_auth(start_relay: Callable[..., RelayThread]) -> None:
    """Bearer and query-parameter secrets are checked too; the query secret is not mapped."""
    relay = start_relay(
        """
sources:
  b: {auth: {type: bearer, secret: bee}}
  q: {auth: {type: query, param: key, secret: queue}}
"""
    )
    assert httpx.post(f"{relay.url}/hooks/b", json=dial_body()).status_code == 401
    ok = httpx.post(
        f"{relay.url}/hooks/b", json=dial_body(), headers={"Authorization": "Bearer bee"}
    )
    assert ok.status_code == 202
    assert httpx.get(f"{relay.url}/hooks/q", params={"key": "nope"}).status_code == 401
    r = httpx.get(f"{relay.url}/hooks/q", params={"key": "queue", **dial_body(dial_id="g1")})
    assert r.status_code == 202


def test_413_body_too_large(start_relay: Callable[..., RelayThread]) -> None:
    """A body over the limit is refused with 413, declared or streamed."""
    relay = start_relay(max_body_bytes=1024)
    big = dial_body(campaign_name="x" * 2000)
    assert httpx.post(f"{relay.url}/hooks/crm", json=big, headers=CRM).status_code == 413

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"a": "' + b"y" * 800
        yield b"z" * 800 + b'"}'

    r = httpx.post(
        f"{relay.url}/hooks/crm",
        content=chunks(),
        headers={**CRM, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_415_other_content_types(start_relay: Callable[..., RelayThread]) -> None:
    """Only JSON and URL-encoded forms are accepted."""
    relay = start_relay()
    r = httpx.post(
        f"{relay.url}/hooks/crm",
        content=b"<xml/>",
        headers={**CRM, "Content-Type": "application/xml"},
    )
    assert r.status_code == 415
    assert "application/xml" in r.json()["error"]


def test_422_lists_problems_and_keeps_request(start_relay: Callable[..., RelayThread]) -> None:
    """Unmappable input is a 422 with {field, problem} and the raw request is kept."""
    relay = start_relay()
    body = dial_body(prospect_phone="not-a-number", datetime="", disposition_name="Sale")
    r = httpx.post(f"{relay.url}/hooks/crm?trace=1", json=body, headers=CRM)
    assert r.status_code == 422
    payload = r.json()
    fields = {e["field"] for e in payload["errors"]}
    assert fields == {"prospect_phone", "datetime"}
    assert all(e["problem"] for e in payload["errors"])
    queue: DialQueue = relay.runtime.queue
    stored = relay.call(queue.get_rejected(payload["rejected_id"]))
    assert stored is not None
    assert stored.source == "crm"
    assert stored.query == {"trace": "1"}
    assert b"not-a-number" in stored.body


def test_422_invalid_json_is_kept(start_relay: Callable[..., RelayThread]) -> None:
    """A body that is not JSON is a 422 on `body`, never a 500, and is kept."""
    relay = start_relay()
    r = httpx.post(
        f"{relay.url}/hooks/crm",
        content=b'{"ani": ',
        headers={**CRM, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert relay.call(relay.runtime.queue.get_rejected(r.json()["rejected_id"])) is not None


def test_query_secret_not_kept_with_rejected(start_relay: Callable[..., RelayThread]) -> None:
    """The query auth parameter never reaches the rejected store."""
    relay = start_relay("sources:\n  q: {auth: {type: query, param: key, secret: qsecret}}\n")
    r = httpx.get(f"{relay.url}/hooks/q", params={"key": "qsecret", "ani": "x"})
    assert r.status_code == 422
    stored = relay.call(relay.runtime.queue.get_rejected(r.json()["rejected_id"]))
    assert "key" not in stored.query


def test_form_and_query_merge(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    """Form fields and query parameters are merged (the body wins on a clash)."""
    relay = start_relay()
    body = dial_body(dial_id="form-1")
    query = {"campaign_name": "From Query", "lead_source": "query-wins-not"}
    form = {k: v for k, v in body.items() if k != "campaign_name"}
    r = httpx.post(
        f"{relay.url}/hooks/crm?{urlencode(query)}",
        content=urlencode(form).encode(),
        headers={**CRM, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 202
    sent = fake.wait_accepted(1)[0].json()
    assert sent["campaign_name"] == "From Query"
    assert sent["lead_source"] == "facebook-ads"


def test_503_when_queue_cannot_store(start_relay: Callable[..., RelayThread]) -> None:
    """When the queue fails, intake answers 503 so the dialer retries, never 202."""
    relay = start_relay()
    relay.call(relay.runtime.queue.close())
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
    assert r.status_code == 503
    ready = httpx.get(f"{relay.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["queue"] == "unavailable"


def test_health_and_readiness(start_relay: Callable[..., RelayThread]) -> None:
    """/healthz is alive; /readyz checks queue, config and worker."""
    relay = start_relay()
    assert httpx.get(f"{relay.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{relay.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"config": "ok", "queue": "ok", "worker": "ok"}


def test_method_not_allowed(start_relay: Callable[..., RelayThread]) -> None:
    """Other methods on a hook are 405, not a crash."""
    relay = start_relay()
    assert httpx.put(f"{relay.url}/hooks/crm", headers=CRM).status_code == 405


def test_a_crash_in_the_hook_is_a_counted_json_500(
    start_relay: Callable[..., RelayThread], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay bug answers a JSON 500 (so the dialer retries), is counted and logged, and the
    next webhook is served as usual."""
    relay = start_relay()
    queue = relay.runtime.queue

    async def broken(*_args: object, **_kwargs: object) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(queue, "enqueue", broken)
    r = httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM)
    assert r.status_code == 500
    assert r.json() == {"status": "error", "error": "internal error"}
    assert scrape.value(relay.url, "relay_webhooks_total", source="crm", outcome="error") == 1
    monkeypatch.undo()
    assert httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=CRM).status_code == 202


def test_head_never_queues(start_relay: Callable[..., RelayThread]) -> None:
    """HEAD (which Starlette would add to every GET route) is refused 405 with ``Allow: GET,
    POST``, on the hook and the preview: even with a whole dial in the query it never
    queues, never reaches a mapping or the rejected store; it is counted once."""
    relay = start_relay()
    query = dial_body(dial_id="head-1")
    for path in ("/hooks/crm", "/preview/crm"):
        r = httpx.head(f"{relay.url}{path}", headers=CRM, params=query)
        assert r.status_code == 405
        assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
        assert r.content == b""
    counts = scrape.samples(relay.url, "relay_webhooks_total")
    crm = {labels["outcome"]: value for labels, value in counts if labels["source"] == "crm"}
    assert crm == {"method_not_allowed": 1}
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    assert (stats.ready, stats.delayed, stats.leased, stats.rejected) == (0, 0, 0, 0)
    got = httpx.get(f"{relay.url}/hooks/crm", headers=CRM, params=query)
    assert got.status_code == 202  # the same request as a GET is a dial


def test_running_relay_spaces_out_young_collections(
    start_relay: Callable[..., RelayThread],
) -> None:
    """While a relay runs, its start-up heap is frozen and young collections run every
    YOUNG_THRESHOLD allocations; once it stops, the collector is as it was."""
    before = gc.get_threshold()
    relay = start_relay()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
    assert gc.get_freeze_count() > 1000
    relay.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
