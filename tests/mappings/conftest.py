"""Genesys fixtures: the fake Genesys Cloud API, recorded-shape fixture files, a relay."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from relay.config.settings import Settings
from relay.core.sources import parse_sources
from tests.conftest import DEFAULT_KEY
from tests.support.fake_genesys import CLIENT_SECRET, FakeGenesys
from tests.support.relay_server import RelayThread

FIXTURES = Path(__file__).parent.parent / "fixtures" / "genesys"
SCENARIOS = ("outbound_agent", "agentless_noanswer", "inbound", "manual_outbound", "system_wrapup")
EVENTBRIDGE_AUTH = ("eventbridge", "eb-password-0001")
DATA_ACTION_KEY = "da-key-0001"


def fixture(*parts: str) -> Any:
    """A fixture file, parsed."""
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def genesys_env(genesys: FakeGenesys, **overrides: str) -> dict[str, str]:
    env = {
        "GENESYS_URL": genesys.url,
        "GENESYS_CLIENT_SECRET": CLIENT_SECRET,
        "EVENTBRIDGE_PASSWORD": EVENTBRIDGE_AUTH[1],
        "DATA_ACTION_KEY": DATA_ACTION_KEY,
    }
    env.update(overrides)
    return env


def post_event(relay: RelayThread, event: Any, source: str = "genesys") -> httpx.Response:
    """POST like an EventBridge API destination: Basic auth, 5 s budget."""
    return httpx.post(f"{relay.url}/hooks/{source}", json=event, auth=EVENTBRIDGE_AUTH, timeout=5.0)


def wait_drained(relay: RelayThread, timeout: float = 10.0) -> None:
    """Until the relay's queue holds nothing (delivered or dead-lettered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = relay.call(relay.runtime.queue.stats(now=time.time()))
        if s.ready + s.delayed + s.leased == 0:
            return
        time.sleep(0.02)
    raise AssertionError("the queue did not drain")


@pytest.fixture
def genesys() -> Iterator[FakeGenesys]:
    fake = FakeGenesys().start()
    fake.load(fixture("directory.json"))
    for scenario in SCENARIOS:
        details = fixture(scenario, "details.json")
        fake.conversations[details["conversationId"]] = [details]
    yield fake
    fake.stop()


@pytest.fixture
def genesys_relay(
    genesys: FakeGenesys, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., RelayThread]]:
    """Start a relay serving tests/fixtures/genesys/sources.yaml (env overrides as kwargs)."""
    started: list[RelayThread] = []
    text = (FIXTURES / "sources.yaml").read_text()

    def factory(env: dict[str, str] | None = None, **settings: Any) -> RelayThread:
        sources = parse_sources(
            text, env=genesys_env(genesys, **(env or {})), default_api_key=SecretStr(DEFAULT_KEY)
        )
        relay = RelayThread(make_settings(**settings), sources=sources).start()
        started.append(relay)
        return relay

    yield factory
    for relay in started:
        relay.stop()
