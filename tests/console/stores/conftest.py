"""The Rejected and Dead letters pages' tests: one relay per test, on either queue backend."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from relay.core.sources import Source
from relay.delivery.worker import Forwarder
from tests.console.conftest import csrf_of, sign_in
from tests.integration.conftest import queue_mode  # noqa: F401 (the backend fixture)
from tests.support.relay_server import RelayThread


@pytest.fixture
def store_relay(
    console_relay: Callable[..., RelayThread],
    queue_mode: dict[str, Any],  # noqa: F811
) -> Callable[..., RelayThread]:
    """A relay with the console on, on each queue backend (``queue_mode``)."""

    def factory(sources_yaml: str, **overrides: Any) -> RelayThread:
        return console_relay(sources_yaml, **{**queue_mode, **overrides})

    return factory


@pytest.fixture
def client_of() -> Iterator[Callable[[RelayThread], httpx.Client]]:
    """A signed-in client of a relay (closed after the test)."""
    clients: list[httpx.Client] = []

    def factory(relay: RelayThread) -> httpx.Client:
        client = httpx.Client(base_url=relay.url)
        clients.append(client)
        assert sign_in(client).status_code == 303
        return client

    yield factory
    for client in clients:
        client.close()


def swap_sources(relay: RelayThread, sources: dict[str, Source]) -> None:
    """What a reload of the sources file does: the new sources, swapped in on the loop."""

    async def swap() -> None:
        relay.runtime.sources = sources
        forwarder = relay.runtime.forwarder
        assert isinstance(forwarder, Forwarder)
        forwarder.update_sources(sources)

    relay.call(swap())


def csrf(client: httpx.Client, path: str = "/console/") -> str:
    return csrf_of(client.get(path).text)


def groups_of(page: str) -> dict[str, int]:
    """The page's "by reason" table: reason -> count."""
    found = re.findall(r'<tr data-reason="([^"]*)" data-count="(\d+)"', page)
    return {html.unescape(reason): int(n) for reason, n in found}


def listed_ids(page: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="id" value="([^"]+)"', page)


def matching(page: str) -> int:
    found = re.search(r'id="matching" data-count="(\d+)"', page)
    assert found is not None
    return int(found.group(1))


def outcome(page: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'<dd data-outcome="(\w+)">(\d+)</dd>', page)}
