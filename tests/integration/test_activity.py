"""Each source's activity from a real relay (``source_activity``): webhook answers and
delivery outcomes counted at once on the replica that saw them, written to the queue, summed
over the replicas of a Redis queue, and still there after a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from relay.core.activity import Activity, source_activity
from relay.queue.base import DialQueue
from tests.conftest import dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}


def post(relay: RelayThread, source: str, dial_id: str, headers: dict[str, str] = CRM) -> int:
    url = f"{relay.url}/hooks/{source}"
    return httpx.post(url, json=dial_body(dial_id=dial_id), headers=headers).status_code


def activity(relay: RelayThread) -> Activity:
    runtime = relay.runtime
    result: Activity = relay.call(source_activity(runtime.queue, runtime.tally, now=time.time()))
    return result


def stored(relay: RelayThread) -> dict[tuple[str, str], int]:
    queue: DialQueue = relay.runtime.queue
    now = time.time()
    found: dict[tuple[str, str], int] = relay.call(queue.activity(since=now - 3600, until=now + 60))
    return found


def test_webhooks_and_deliveries_show_at_once_then_stored_and_after_a_restart(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    fake.fail_dial("act-dead", Reply(400, body='{"error":"campaign unknown"}'))
    before = time.time()
    relay = start_relay()
    assert post(relay, "crm", "act-1") == 202
    assert post(relay, "crm", "act-1") == 200  # duplicate
    assert post(relay, "crm", "act-dead") == 202
    assert post(relay, "crm", "act-2", headers={"X-Relay-Token": "wrong"}) == 401
    assert post(relay, "nosuch", "act-3") == 404
    assert httpx.put(f"{relay.url}/hooks/crm").status_code == 405  # counted by the guard
    now = activity(relay)  # at once, flushed or not
    assert now.hour["crm"]["queued"] == 2
    assert now.hour["crm"]["duplicate"] == 1
    assert now.hour["crm"]["unauthorized"] == 1
    assert now.hour["_unknown"]["unknown_source"] == 1
    assert now.hour["crm"]["method_not_allowed"] == 1
    assert before <= now.last_webhook["crm"] <= time.time()
    assert "other" not in now.last_webhook  # it never sent one
    assert fake.wait_for(lambda: "act-1" in fake.accepted_ids())
    expected = {
        ("crm", "queued"): 2,
        ("crm", "duplicate"): 1,
        ("crm", "unauthorized"): 1,
        ("_unknown", "unknown_source"): 1,
        ("crm", "method_not_allowed"): 1,
        ("crm", "delivered"): 1,
        ("crm", "dead_lettered"): 1,
    }
    assert fake.wait_for(lambda: stored(relay) == expected, timeout=20), stored(relay)  # flushed
    seen = activity(relay)
    assert seen.day == seen.hour
    assert {(s, o): n for s, by in seen.hour.items() for o, n in by.items()} == expected
    relay.stop()

    again = start_relay()  # same queue file
    after = activity(again)
    assert after.hour == seen.hour
    assert after.last_webhook == seen.last_webhook


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    with unique_prefix(tmp_path) as name:
        yield name


@pytest.mark.redis
def test_replicas_on_one_redis_queue_show_the_clusters_counts(
    start_relay: Callable[..., RelayThread], prefix: str, fake: FakeOutboundIQ
) -> None:
    a, b = (
        start_relay(queue_url=REDIS_URL, redis_key_prefix=prefix, redis_consumer=name)
        for name in ("a", "b")
    )
    for n in range(3):
        assert post(a, "crm", f"rep-a-{n}") == 202
    assert post(b, "crm", "rep-b-0") == 202
    assert activity(b).hour["crm"]["queued"] >= 1  # its own at once

    def both_see_four() -> bool:
        return all(activity(r).hour.get("crm", {}).get("queued") == 4 for r in (a, b))

    assert fake.wait_for(both_see_four, timeout=20)
    assert fake.wait_for(lambda: activity(a).hour["crm"].get("delivered") == 4, timeout=20)
