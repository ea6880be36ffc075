"""The Live page and its stream: events as they happen, filtered, behind the session; on a
shared Redis queue, the events of every replica."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.console import live
from tests.conftest import dial_body
from tests.console.conftest import sign_in
from tests.console.stream import LiveStream
from tests.log_guard import unmasked_test_phones
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}


@pytest.fixture
def follow() -> Iterator[Callable[..., LiveStream]]:
    streams: list[LiveStream] = []

    def start(client: httpx.Client, **params: str) -> LiveStream:
        stream = LiveStream(str(client.base_url), client.cookies, params).start()
        streams.append(stream)
        return stream

    yield start
    for stream in streams:
        stream.close()


def _post(client: httpx.Client, dial_id: str, headers: dict[str, str] = CRM, **kw: Any) -> int:
    return client.post(
        "/hooks/crm" if headers is CRM else "/hooks/other",
        json=dial_body(dial_id=dial_id, **kw),
        headers=headers,
    ).status_code


def test_the_live_page_has_its_controls_and_no_inline_script(signed_in: httpx.Client) -> None:
    page = signed_in.get("/console/live")
    assert page.status_code == 200
    html = page.text
    for marker in (
        'id="live-filters"',
        'id="live-source"',
        'id="live-outcome"',
        'id="live-pause"',
        'id="live-state"',
        'data-stream="/console/events"',
        'src="/console/static/live.js',
        '<option value="crm"',
        '<option value="dead_lettered"',
    ):
        assert marker in html
    assert "<script>" not in html and "onclick" not in html
    assert signed_in.get("/console/static/live.js").status_code == 200


def test_a_webhook_shows_on_the_stream_masked_within_two_seconds(
    console_relay: Callable[..., RelayThread],
    queue_mode: dict[str, Any],
    follow: Callable[..., LiveStream],
) -> None:
    relay = console_relay(**queue_mode)
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        stream = follow(client)
        hello = stream.wait_ready()
        assert hello["cluster"] is bool(queue_mode)
        numbers = itertools.count()
        if queue_mode:  # the relay looks for listeners on the channel once a second
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not stream.events():
                assert _post(client, f"warm-{next(numbers)}") == 202
                time.sleep(0.2)
        assert _post(client, "live-1", prospect_phone="(512) 555-0187") == 202
        events = stream.wait_for(
            lambda got: any(e.get("dial_id") == "live-1" for e in got), timeout=2.0
        )
    queued = next(e for e in events if e.get("dial_id") == "live-1" and e["kind"] == "queued")
    assert queued["source"] == "crm"
    assert queued["payload"]["prospect_phone"] == "******0187"
    assert unmasked_test_phones(stream.raw.decode()) == []


def test_the_stream_shows_what_the_filters_select(
    signed_in: httpx.Client, follow: Callable[..., LiveStream]
) -> None:
    stream = follow(signed_in, source="other", outcome="rejected")
    stream.wait_ready()
    assert _post(signed_in, "f-1") == 202  # crm, queued: filtered out
    assert _post(signed_in, "f-2", headers=OTHER) == 202  # other, queued: filtered out
    bad = signed_in.post("/hooks/other", json={"dial_id": "f-3"}, headers=OTHER)
    assert bad.status_code == 422
    events = stream.wait_for(lambda got: any(e["kind"] == "rejected" for e in got))
    # the stream keeps the order of events: what was filtered out would have come first
    assert [(e["source"], e["kind"]) for e in events] == [("other", "rejected")]
    assert signed_in.get("/console/events", params={"outcome": "nonsense"}).status_code == 400
    page = signed_in.get("/console/live", params={"outcome": "5125550187"}).text
    assert "unknown outcome" in page and unmasked_test_phones(page) == []


def test_past_its_rate_the_stream_counts_what_it_skips_and_a_rejection_still_shows(
    signed_in: httpx.Client, follow: Callable[..., LiveStream], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Live page's stream takes at most ``LIVE_PER_SECOND`` events of one kind a second
    (5 here, for a test that sends tens, not thousands, a second)."""
    monkeypatch.setattr(live, "LIVE_PER_SECOND", 5)
    stream = follow(signed_in)
    stream.wait_ready()
    started = time.monotonic()
    for n in range(40):
        assert _post(signed_in, f"r-{n}") == 202
    assert signed_in.post("/hooks/crm", json={"dial_id": "bad"}, headers=CRM).status_code == 422
    events = stream.wait_for(lambda got: any(e["kind"] == "rejected" for e in got))
    seconds = time.monotonic() - started
    queued = [e for e in events if e["kind"] == "queued"]
    skipped = [e for e in events if e["kind"] == "skipped"]
    assert skipped and all(e["per_second"] == 5 for e in skipped)
    assert len(queued) <= 5 * (seconds + 1)
    # every webhook's event was either shown or counted (the skipped deliveries are counted
    # too, so the sum is at least the 40 queued)
    assert len(queued) + sum(e["skipped"] for e in skipped) >= 40
    assert unmasked_test_phones(stream.raw.decode()) == []


def test_the_stream_needs_a_session_and_the_admin_token(
    console_relay: Callable[..., RelayThread],
) -> None:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        assert client.get("/console/events").status_code == 401
        client.cookies.set("relay_console", "1999999999.forged.signature", path="/console")
        assert client.get("/console/events").status_code == 401
        assert client.get("/console/live").status_code == 303  # to the sign-in page
    off = console_relay(admin_token=None)
    with httpx.Client(base_url=off.url) as client:
        assert client.get("/console/events").status_code == 404
        assert client.get("/console/live").status_code == 404


@pytest.mark.redis
@pytest.mark.slow
def test_the_console_of_one_replica_shows_a_webhook_sent_to_another(
    console_relay: Callable[..., RelayThread],
    tmp_path: Path,
    follow: Callable[..., LiveStream],
) -> None:
    with unique_prefix(tmp_path) as prefix:
        shared = {"queue_url": REDIS_URL, "redis_key_prefix": prefix}
        a = console_relay(redis_consumer="replica-a", **shared)
        b = console_relay(redis_consumer="replica-b", **shared)
        with httpx.Client(base_url=a.url) as console, httpx.Client(base_url=b.url) as hooks:
            sign_in(console)
            stream = follow(console, source="crm")
            assert stream.wait_ready()["cluster"] is True
            # each replica looks for listeners once a second: post to B until it is seen
            numbers = itertools.count()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                assert _post(hooks, f"b-{next(numbers)}", prospect_phone="512-555-0187") == 202
                if any(e.get("replica") == "replica-b" for e in stream.events()):
                    break
                time.sleep(0.2)
            events = stream.wait_for(
                lambda got: any(
                    e.get("replica") == "replica-b" and e["kind"] == "queued" for e in got
                )
            )
    from_b = next(e for e in events if e.get("replica") == "replica-b" and e["kind"] == "queued")
    assert from_b["dial_id"].startswith("b-")
    assert from_b["payload"]["prospect_phone"] == "******0187"
    assert unmasked_test_phones(stream.raw.decode()) == []
