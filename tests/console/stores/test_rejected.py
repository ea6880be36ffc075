"""The Rejected page: grouped and filtered, each record shown safe, replayed after a fix,
purged only once confirmed; on both queue backends."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from structlog.testing import capture_logs

from relay.queue.base import RejectedRecord
from tests.conftest import dial_body
from tests.console.stores.conftest import (
    csrf,
    groups_of,
    listed_ids,
    matching,
    outcome,
    swap_sources,
)
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

QS_SECRET = "qs-hook-secret-123"
BT_SECRET = "bt-hook-secret-456"
# Both sources read prospect_phone from a path the body does not have: every webhook is
# rejected until the fixed file (no such path: the body's own key) is loaded.
BROKEN = """
sources:
  qs:
    mapping: generic
    auth: {{type: query, param: key, secret: {qs}}}
    {options}
  bt:
    mapping: generic
    auth: {{type: body-token, path: token, secret: {bt}}}
    {options}
"""
SOURCES = BROKEN.format(
    qs=QS_SECRET, bt=BT_SECRET, options="options: {fields: {prospect_phone: contact.phone}}"
)
FIXED = BROKEN.format(qs=QS_SECRET, bt=BT_SECRET, options="")
MISSING_PHONE = "prospect_phone: required, but missing or empty"
MALFORMED = "body: malformed JSON: unexpected end of data"


def send_qs(relay: RelayThread, body: dict[str, Any] | bytes, **query: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{relay.url}/hooks/qs",
        params={"key": QS_SECRET, **query},
        content=content,
        headers={"content-type": "application/json"},
    )


def send_bt(relay: RelayThread, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{relay.url}/hooks/bt", json={**body, "token": BT_SECRET})


def rejected_ids(relay: RelayThread, source: str | None = None) -> list[str]:
    return [r.id for r in relay.call(relay.runtime.queue.list_rejected(source=source))]


def assert_safe(page: str) -> None:
    """No secret and no phone number written out in a page."""
    for secret in (QS_SECRET, BT_SECRET):
        assert secret not in page
    assert unmasked_test_phones(page) == []


def test_unmappable_webhooks_are_listed_grouped_and_filtered(
    store_relay: Callable[..., RelayThread], client_of: Callable[[RelayThread], httpx.Client]
) -> None:
    relay = store_relay(SOURCES)
    assert send_qs(relay, dial_body(dial_id="g-1")).status_code == 422
    assert send_qs(relay, dial_body(dial_id="g-2")).status_code == 422
    assert send_bt(relay, dial_body(dial_id="g-3")).status_code == 422
    assert send_qs(relay, b'{"dial_id": ').status_code == 422
    client = client_of(relay)

    page = client.get("/console/rejected").text
    assert groups_of(page) == {MISSING_PHONE: 3, MALFORMED: 1}
    assert matching(page) == 4 and len(listed_ids(page)) == 4
    assert "*******0100" in page, page.split('id="records"')[1][:3000]  # masked summary
    assert_safe(page)
    assert 'src="/console/static/stores.js' in page
    assert "select-all" in client.get("/console/static/stores.js").text

    by_source = client.get("/console/rejected", params={"source": "qs"}).text
    assert groups_of(by_source) == {MISSING_PHONE: 2, MALFORMED: 1}
    assert sorted(listed_ids(by_source)) == sorted(rejected_ids(relay, "qs"))

    both = client.get("/console/rejected", params={"source": "qs", "reason": MISSING_PHONE}).text
    assert matching(both) == 2
    assert 'data-source="bt"' not in both.split('id="records"')[1]
    assert matching(client.get("/console/rejected", params={"reason": MALFORMED}).text) == 1


def test_a_record_is_shown_masked_and_without_its_sources_secret(
    store_relay: Callable[..., RelayThread], client_of: Callable[[RelayThread], httpx.Client]
) -> None:
    relay = store_relay(SOURCES)
    assert send_qs(relay, dial_body(dial_id="v-1"), campaign="spring").status_code == 422
    assert send_bt(relay, dial_body(dial_id="v-2")).status_code == 422
    # Kept before the secret was removed at intake (or by a source since changed): the page
    # removes it all the same.
    raw = RejectedRecord(
        id="",
        source="qs",
        received_at=1.0,
        method="POST",
        content_type="application/x-www-form-urlencoded",
        query={"key": QS_SECRET, "campaign": "x"},
        body=f"prospect_phone=512-555-0187&key={QS_SECRET}&api_token={BT_SECRET}".encode(),
        problems=[{"field": "prospect_phone", "problem": "not a number (got ******0187)"}],
    )
    old = relay.call(relay.runtime.queue.add_rejected(raw))
    client = client_of(relay)
    qs_id, bt_id = rejected_ids(relay, "qs")[0], rejected_ids(relay, "bt")[0]

    for record_id in (qs_id, bt_id, old):
        page = client.get(f"/console/rejected/{record_id}").text
        assert 'id="problems"' in page
        assert f'href="/console/playground?rejected={record_id}"' in page
        assert_safe(page)
    qs_page = client.get(f"/console/rejected/{qs_id}").text
    assert "spring" in qs_page and MISSING_PHONE.split(": ")[1] in qs_page
    assert "******0187" in qs_page and "*******0100" in qs_page
    bt_page = client.get(f"/console/rejected/{bt_id}").text
    assert "&#34;token&#34;" not in bt_page and '"token"' not in bt_page
    old_page = client.get(f"/console/rejected/{old}").text
    assert "prospect_phone = ******0187" in old_page
    assert client.get("/console/rejected/999999").status_code == 404
    assert client.get("/console/rejected/..%2Fx").status_code == 404


def test_replay_after_the_fix_queues_and_delivers(
    store_relay: Callable[..., RelayThread],
    client_of: Callable[[RelayThread], httpx.Client],
    fake: FakeOutboundIQ,
    make_sources: Callable[..., Any],
) -> None:
    relay = store_relay(SOURCES)
    for dial_id in ("r-1", "r-2"):
        assert send_qs(relay, dial_body(dial_id=dial_id)).status_code == 422
    assert send_bt(relay, dial_body(dial_id="r-3")).status_code == 422
    assert send_qs(relay, b'{"dial_id": ').status_code == 422
    client = client_of(relay)
    token = csrf(client, "/console/rejected")

    # Before the fix, a replay leaves them where they are, and says why.
    before = client.post(
        "/console/rejected/replay",
        data={"csrf": token, "scope": "selected", "id": rejected_ids(relay, "bt")},
    ).text
    assert outcome(before)["still_rejected"] == 1 and MISSING_PHONE in before
    assert len(rejected_ids(relay)) == 4

    swap_sources(relay, make_sources(FIXED))
    with capture_logs() as logs:
        done = client.post(
            "/console/rejected/replay",
            data={"csrf": token, "scope": "matching", "source": "qs", "reason": MISSING_PHONE},
        )
    assert done.status_code == 200
    assert outcome(done.text) == {"queued": 2, "duplicates": 0, "ignored": 0, "still_rejected": 0}
    assert fake.wait_for(lambda: {"r-1", "r-2"} <= set(fake.accepted_ids()))
    audited = [e for e in logs if e.get("action") == "rejected_replay"]
    assert len(audited) == 1 and audited[0]["queued"] == 2 and len(audited[0]["ids"]) == 2
    assert "body" not in audited[0] and "payload" not in audited[0]

    # The rest: one maps now, the malformed one is still rejected, with its reason.
    rest = client.post("/console/rejected/replay", data={"csrf": token, "scope": "matching"}).text
    assert outcome(rest) == {"queued": 1, "duplicates": 0, "ignored": 0, "still_rejected": 1}
    assert MALFORMED.split(": ", 1)[1].split(":")[0] in rest  # "malformed JSON"
    assert fake.wait_for(lambda: "r-3" in fake.accepted_ids())
    assert len(rejected_ids(relay)) == 1

    # The same request again is a duplicate of the dial already accepted.
    again = relay.call(
        relay.runtime.queue.add_rejected(
            RejectedRecord(
                id="",
                source="qs",
                received_at=2.0,
                method="POST",
                content_type="application/json",
                query={},
                body=orjson.dumps(dial_body(dial_id="r-1")),
            )
        )
    )
    dup = client.post(
        "/console/rejected/replay", data={"csrf": token, "scope": "selected", "id": [again]}
    ).text
    assert outcome(dup)["duplicates"] == 1 and outcome(dup)["queued"] == 0
    assert fake.accepted_ids().count("r-1") == 1


def test_purge_asks_first_and_deletes_only_what_it_named(
    store_relay: Callable[..., RelayThread], client_of: Callable[[RelayThread], httpx.Client]
) -> None:
    relay = store_relay(SOURCES)
    for dial_id in ("p-1", "p-2", "p-3"):
        assert send_qs(relay, dial_body(dial_id=dial_id)).status_code == 422
    assert send_bt(relay, dial_body(dial_id="p-4")).status_code == 422
    client = client_of(relay)
    token = csrf(client, "/console/rejected")
    qs_ids = rejected_ids(relay, "qs")

    # Without the CSRF token: refused, nothing deleted.
    refused = client.post(
        "/console/rejected/purge", data={"scope": "selected", "id": qs_ids, "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert len(rejected_ids(relay)) == 4

    # The first POST only asks.
    ask = client.post(
        "/console/rejected/purge", data={"csrf": token, "scope": "selected", "id": qs_ids[:2]}
    )
    assert ask.status_code == 200
    assert "Purge 2 rejected requests of source qs? This cannot be undone." in ask.text
    assert 'id="cancel-purge" href="/console/rejected"' in ask.text
    assert len(rejected_ids(relay)) == 4
    confirm_ids = re.findall(r'<input type="hidden" name="id" value="([^"]+)">', ask.text)
    assert confirm_ids == qs_ids[:2]

    # "All matching" asks with the exact count, and a record arriving meanwhile is not purged.
    ask_all = client.post(
        "/console/rejected/purge", data={"csrf": token, "scope": "matching", "source": "qs"}
    ).text
    assert "Purge 3 rejected requests of source qs?" in ask_all
    assert send_qs(relay, dial_body(dial_id="p-5")).status_code == 422
    with capture_logs() as logs:
        done = client.post(
            "/console/rejected/purge",
            data={
                "csrf": token,
                "confirm": "yes",
                "source": "qs",
                "id": re.findall(r'name="id" value="([^"]+)"', ask_all),
            },
        )
    assert outcome(done.text)["purged"] == 3
    assert len(rejected_ids(relay, "qs")) == 1 and len(rejected_ids(relay, "bt")) == 1
    audited = [e for e in logs if e.get("action") == "rejected_purge"]
    assert audited and audited[0]["purged"] == 3 and sorted(audited[0]["ids"]) == sorted(qs_ids)

    # One, from its view: asked, then gone.
    bt_id = rejected_ids(relay, "bt")[0]
    view = client.get(f"/console/rejected/{bt_id}").text
    assert 'id="purge-one"' in view
    one = client.post(
        "/console/rejected/purge", data={"csrf": token, "scope": "selected", "id": bt_id}
    ).text
    assert "Purge 1 rejected request of source bt?" in one
    assert rejected_ids(relay, "bt") == [bt_id]
    client.post("/console/rejected/purge", data={"csrf": token, "confirm": "yes", "id": bt_id})
    assert rejected_ids(relay, "bt") == []
    nothing = client.post("/console/rejected/purge", data={"csrf": token, "scope": "selected"})
    assert nothing.status_code == 400
