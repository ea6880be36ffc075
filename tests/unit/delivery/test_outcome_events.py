"""Every delivery outcome is a live-feed event while someone follows the feed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from relay.delivery.poster import PostResult
from relay.obs.events import RelayEvent
from relay.obs.feed import EventFeed
from tests.conftest import DEFAULT_KEY
from tests.support.delivery import Bench

KEY = SecretStr(DEFAULT_KEY)

pytestmark = pytest.mark.anyio


def answer(status: int, body: str = "") -> PostResult:
    return PostResult(status, body, None, f"http {status}")


async def test_each_outcome_tells_the_feed(bench: Bench) -> None:
    feed = bench.outcomes.events = EventFeed("pod-a")
    following = feed.subscribe()
    await bench.outcomes.posted(await bench.lease("crm", "ok"), KEY, answer(200))
    await bench.outcomes.posted(await bench.lease("crm", "busy"), KEY, answer(503))
    await bench.outcomes.posted(
        await bench.lease("other", "bad"), SecretStr("oiq-other-key-0002"), answer(400, "no")
    )
    await bench.outcomes.posted(await bench.lease("shop", "refused"), KEY, answer(401))
    await bench.outcomes.park(await bench.lease("crm", "nokey"), reason="no_api_key", now=0.0)
    items = following.pending()
    events = [i for i in items if isinstance(i, RelayEvent)]
    assert [(e.kind, e.dial_id, e.status, e.reason) for e in events] == [
        ("delivered", "ok", 200, None),
        ("retried", "busy", 503, "http_503"),
        ("dead_lettered", "bad", 400, "http_400"),
        ("retried", "refused", 401, "key_held_401"),
        ("retried", "nokey", None, "no_api_key"),
    ]
    assert {e.replica for e in events} == {"pod-a"}
    assert all(e.queue_id and e.attempt == 1 for e in events)
    assert events[1].detail is not None and events[1].detail.startswith("http 503; next attempt")
    assert events[2].detail == "no"
