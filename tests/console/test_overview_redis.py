"""The overview on a shared Redis queue: the cluster's replicas and counts, on any replica."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import dial_body
from tests.console.conftest import sign_in
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

pytestmark = pytest.mark.redis


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    with unique_prefix(tmp_path) as name:
        yield name


def _row(part: str, source: str) -> str:
    return part.split(f'data-source="{source}"', 1)[1].split("</tr>", 1)[0]


def test_any_replica_shows_the_cluster(
    console_relay: Callable[..., RelayThread], prefix: str
) -> None:
    a, b = (
        console_relay(queue_url=REDIS_URL, redis_key_prefix=prefix, redis_consumer=name)
        for name in ("replica-a", "replica-b")
    )
    for n in range(2):
        reply = httpx.post(
            b.url + "/hooks/crm",
            json=dial_body(dial_id=f"cluster-{n}"),
            headers={"X-Relay-Token": "crm-hook-secret"},
        )
        assert reply.status_code == 202
    with httpx.Client(base_url=a.url) as client:
        sign_in(client)
        deadline = time.monotonic() + 20
        part = ""
        while time.monotonic() < deadline:
            part = client.get("/console/overview").text
            hour = _row(part, "crm").split('class="counts hour"', 1)[1].split("</td>", 1)[0]
            both = all(f'data-replica="{n}"' in part for n in ("replica-a", "replica-b"))
            if both and "queued 2<" in hour:
                break
            time.sleep(0.1)
    assert 'data-outcome="queued">queued 2<' in hour  # counted on B, shown on A
    replicas = part.split("<h2>Replicas</h2>", 1)[1].split("</section>", 1)[0]
    assert 'data-replica="replica-a"' in replicas and "(this one)" in replicas
    assert 'data-replica="replica-b"' in replicas
    assert replicas.count("alive") == 2


def test_an_sqlite_relay_is_one_process(signed_in: httpx.Client) -> None:
    part = signed_in.get("/console/overview").text
    assert "an SQLite queue is not shared" in part
