"""The Dead letters page: grouped by outboundIQ's answer, shown masked, replayed once
outboundIQ accepts, purged only once confirmed; on both queue backends."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from structlog.testing import capture_logs

from tests.conftest import BASIC_SOURCES, DEFAULT_KEY, dial_body
from tests.console.stores.conftest import csrf, groups_of, listed_ids, matching, outcome
from tests.log_guard import unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}
BAD_400 = "http_400 (HTTP 400)"
BAD_422 = "http_422 (HTTP 422)"


def dead_ids(relay: RelayThread, source: str | None = None) -> list[str]:
    return [d.id for d in relay.call(relay.runtime.queue.list_dead(source=source))]


def dead_letters(
    relay: RelayThread, fake: FakeOutboundIQ, refusals: dict[str, tuple[str, int]]
) -> None:
    """Send each dial (id -> (source, status)) and wait until outboundIQ's refusal of every
    one has put it in the dead-letter store."""
    for dial_id, (source, status) in refusals.items():
        echo = f'{{"error": "bad phone 512-555-0187", "echo": "{DEFAULT_KEY}"}}'
        fake.fail_dial(dial_id, Reply(status, echo))
        headers = CRM if source == "crm" else OTHER
        hook = httpx.post(
            f"{relay.url}/hooks/{source}", json=dial_body(dial_id=dial_id), headers=headers
        )
        assert hook.status_code == 202
    assert fake.wait_for(lambda: len(dead_ids(relay)) == len(refusals))


def test_dead_letters_are_grouped_filtered_and_shown_masked(
    store_relay: Callable[..., RelayThread],
    client_of: Callable[[RelayThread], httpx.Client],
    fake: FakeOutboundIQ,
) -> None:
    relay = store_relay(BASIC_SOURCES)
    dead_letters(relay, fake, {"d-1": ("crm", 400), "d-2": ("other", 400), "d-3": ("crm", 422)})
    client = client_of(relay)

    page = client.get("/console/dead").text
    assert groups_of(page) == {BAD_400: 2, BAD_422: 1}
    assert matching(page) == 3 and sorted(listed_ids(page)) == sorted(dead_ids(relay))
    for dial_id in ("d-1", "d-2", "d-3"):
        assert f'data-dial-id="{dial_id}"' in page
    assert unmasked_test_phones(page) == []
    assert matching(client.get("/console/dead", params={"source": "crm"}).text) == 2
    assert matching(client.get("/console/dead", params={"reason": BAD_400}).text) == 2
    crm_400 = client.get("/console/dead", params={"source": "crm", "reason": BAD_400}).text
    assert matching(crm_400) == 1 and 'data-dial-id="d-1"' in crm_400

    one = client.get(f"/console/dead/{dead_ids(relay, 'other')[0]}").text
    assert 'data-dial-id="d-2"' in one and BAD_400 in one
    assert "******0187" in one and "bad phone" in one  # the payload and the answer, masked
    assert unmasked_test_phones(one) == []
    for secret in (DEFAULT_KEY, "oiq-other-key-0002", "other-hook-secret"):
        assert secret not in one
    assert 'id="replay-one"' in one and 'id="purge-one"' in one
    assert client.get("/console/dead/424242").status_code == 404


def test_replay_once_outboundiq_accepts_delivers(
    store_relay: Callable[..., RelayThread],
    client_of: Callable[[RelayThread], httpx.Client],
    fake: FakeOutboundIQ,
) -> None:
    relay = store_relay(BASIC_SOURCES)
    dead_letters(relay, fake, {"x-1": ("crm", 400), "x-2": ("crm", 400), "x-3": ("other", 422)})
    client = client_of(relay)
    token = csrf(client, "/console/dead")
    for dial_id in ("x-1", "x-2", "x-3"):
        fake.fail_dial(dial_id, None)  # outboundIQ accepts them now

    # Without the CSRF token: refused, nothing replayed.
    refused = client.post("/console/dead/replay", data={"scope": "matching"})
    assert refused.status_code == 403 and len(dead_ids(relay)) == 3

    with capture_logs() as logs:
        done = client.post(
            "/console/dead/replay",
            data={"csrf": token, "scope": "matching", "source": "crm", "reason": BAD_400},
        )
    assert outcome(done.text) == {"requeued": 2}
    assert fake.wait_for(lambda: {"x-1", "x-2"} <= set(fake.accepted_ids()))
    audited = [e for e in logs if e.get("action") == "dead_replay"]
    assert len(audited) == 1 and audited[0]["requeued"] == 2 and len(audited[0]["ids"]) == 2

    # One, from its view; then an id that is gone is reported, not replayed.
    last = dead_ids(relay)
    assert len(last) == 1
    again = client.post(
        "/console/dead/replay", data={"csrf": token, "scope": "selected", "id": last}
    ).text
    assert outcome(again) == {"requeued": 1}
    assert fake.wait_for(lambda: "x-3" in fake.accepted_ids())
    gone = client.post(
        "/console/dead/replay", data={"csrf": token, "scope": "selected", "id": last}
    ).text
    assert outcome(gone) == {"requeued": 0} and 'id="missing"' in gone
    assert sorted(fake.accepted_ids()) == ["x-1", "x-2", "x-3"]


def test_purge_asks_first_then_deletes_exactly_those(
    store_relay: Callable[..., RelayThread],
    client_of: Callable[[RelayThread], httpx.Client],
    fake: FakeOutboundIQ,
) -> None:
    relay = store_relay(BASIC_SOURCES)
    dead_letters(relay, fake, {"y-1": ("crm", 400), "y-2": ("crm", 422), "y-3": ("other", 400)})
    client = client_of(relay)
    token = csrf(client, "/console/dead")
    crm = dead_ids(relay, "crm")

    ask = client.post(
        "/console/dead/purge", data={"csrf": token, "scope": "matching", "source": "crm"}
    )
    assert ask.status_code == 200
    assert "Purge 2 dead letters of source crm? This cannot be undone." in ask.text
    assert len(dead_ids(relay)) == 3  # asking deletes nothing
    named = re.findall(r'<input type="hidden" name="id" value="([^"]+)">', ask.text)
    assert sorted(named) == sorted(crm)

    assert (
        client.post("/console/dead/purge", data={"confirm": "yes", "id": named}).status_code == 403
    )
    assert len(dead_ids(relay)) == 3

    picked = client.post(
        "/console/dead/purge",
        data={"csrf": token, "scope": "selected", "id": [crm[0], dead_ids(relay, "other")[0]]},
    ).text
    assert "Purge 2 dead letters of sources crm, other?" in picked
    assert len(dead_ids(relay)) == 3

    with capture_logs() as logs:
        done = client.post(
            "/console/dead/purge", data={"csrf": token, "confirm": "yes", "id": named}
        ).text
    assert outcome(done) == {"purged": 2, "not_found": 0}
    assert dead_ids(relay, "crm") == [] and len(dead_ids(relay, "other")) == 1
    audited = [e for e in logs if e.get("action") == "dead_purge"]
    assert audited and audited[0]["purged"] == 2 and sorted(audited[0]["ids"]) == sorted(crm)
