"""The Dials page: search the dial history, read a dial's timeline; phones masked."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from relay.console.dials import last4_of
from tests.conftest import dial_body
from tests.console.conftest import csrf_of, sign_in, wait_for_page
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}


def search(client: httpx.Client, **fields: str) -> tuple[str, str]:
    """Submit the search form as a browser does: the redirect's URL, and the listing."""
    csrf = csrf_of(client.get("/console/dials").text)
    answer = client.post("/console/dials", data={"csrf": csrf, **fields})
    assert answer.status_code == 303
    location = answer.headers["location"]
    listing = client.get(location)
    assert listing.status_code == 200
    return location, listing.text


def listed(html: str) -> set[str]:
    marker = 'data-dial-id="'
    found = set()
    start = html.find(marker)
    while start != -1:
        start += len(marker)
        found.add(html[start : html.index('"', start)])
        start = html.find(marker, start)
    return found


def test_dials_are_found_by_id_source_number_and_time(
    console_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue_mode: dict[str, Any]
) -> None:
    relay = console_relay(**queue_mode)
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        for dial_id, phone, headers, hook in (
            ("s-1", "512-555-0187", CRM, "crm"),
            ("s-2", "512-555-0199", CRM, "crm"),
            ("s-3", "(737) 555-0187", OTHER, "other"),
        ):
            body = dial_body(dial_id=dial_id, prospect_phone=phone)
            assert client.post(f"/hooks/{hook}", json=body, headers=headers).status_code == 202
        fake.wait_accepted(3)

        assert listed(search(client, dial_id="s-1")[1]) == {"s-1"}
        assert listed(search(client, source="other")[1]) == {"s-3"}
        location, html = search(client, last4="(512) 555-0187")  # a whole number typed in
        assert "last4=0187" in location and "5125550187" not in location
        assert "555" not in location
        assert listed(html) == {"s-1", "s-3"}
        assert listed(search(client, last4="0187", source="crm")[1]) == {"s-1"}
        assert listed(search(client, since="1h")[1]) == {"s-1", "s-2", "s-3"}
        assert listed(search(client, until="1h")[1]) == set()
        later = datetime.fromtimestamp(time.time() + 3600, UTC).strftime("%Y-%m-%dT%H:%M")
        assert listed(search(client, since=later)[1]) == set()
        assert listed(search(client, dial_id="s-2", until=later)[1]) == {"s-2"}
        _, html = search(client, since="1h")
        assert '/console/dials/crm/s-1"' in html
        assert "******0187" in html and "******0199" in html
        assert unmasked_test_phones(html) == []
        bad = client.get("/console/dials", params={"last4": "12", "since": "yesterday-ish"})
        assert "the last 4 digits" in bad.text and "since:" in bad.text
        assert listed(bad.text) == set()
        by_hand = client.get(
            "/console/dials", params={"last4": "5125550187", "since": "at 512-555-0199"}
        )
        assert listed(by_hand.text) == set()  # the since is refused, and said masked
        assert 'value="0187"' in by_hand.text and unmasked_test_phones(by_hand.text) == []


def test_the_timeline_shows_a_failed_attempt_then_the_delivery(
    console_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, queue_mode: dict[str, Any]
) -> None:
    relay = console_relay(**queue_mode)
    fake.script(Reply(503, b'{"error": "busy, call 512-555-0111 later"}'))
    with httpx.Client(base_url=relay.url) as client:
        sign_in(client)
        body = dial_body(dial_id="t-1", prospect_phone="512-555-0187")
        assert client.post("/hooks/crm", json=body, headers=CRM).status_code == 202
        fake.wait_accepted(1)
        page = wait_for_page(client, "/console/dials/crm/t-1", 'data-event="delivered"')
    assert 'data-event="received"' in page
    assert 'data-event="attempt" data-status="503"' in page
    assert 'data-event="waiting"' in page
    assert 'data-event="attempt" data-status="200"' in page
    assert 'data-event="delivered"' in page
    assert page.index('data-status="503"') < page.index('data-status="200"')
    assert "#1 HTTP 503 in " in page and "busy, call" in page
    assert "&#34;prospect_phone&#34;: &#34;******0187&#34;" in page  # the payload, masked
    assert 'data-state="delivered"' in page
    assert unmasked_test_phones(page) == []


def test_an_unknown_dial_is_a_404_and_history_off_is_said(
    console_relay: Callable[..., RelayThread],
) -> None:
    on = console_relay()
    with httpx.Client(base_url=on.url) as client:
        sign_in(client)
        missing = client.get("/console/dials/crm/nope")
        assert missing.status_code == 404
        assert "never received, or its history expired" in missing.text
        assert 'id="history-off"' not in client.get("/console/dials").text
    off = console_relay(dial_history_seconds=0)
    with httpx.Client(base_url=off.url) as client:
        sign_in(client)
        assert 'id="history-off"' in client.get("/console/dials").text
        assert "RELAY_DIAL_HISTORY_SECONDS=0" in client.get("/console/dials/crm/nope").text


def test_the_search_form_needs_its_csrf_token(signed_in: httpx.Client) -> None:
    assert signed_in.post("/console/dials", data={"dial_id": "x"}).status_code == 403


@given(st.text(max_size=30))
def test_the_number_field_keeps_at_most_four_characters(typed: str) -> None:
    kept = last4_of(typed)
    assert len(kept) <= 4
    digits = "".join(c for c in typed if c.isdigit())
    if len(digits) >= 4:
        assert kept == digits[-4:]


def test_a_whole_number_is_cut_to_its_last_four_digits() -> None:
    assert last4_of("+1 (512) 555-0187") == "0187"
    assert last4_of("0187") == "0187"
