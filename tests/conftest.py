"""Factory fixtures: a fake outboundIQ, settings, sources, and a running relay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from relay.config.settings import Settings
from relay.core.sources import Source, parse_sources
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayThread

# Every log line of the suite is checked for secrets and unmasked phone numbers.
pytest_plugins = ["tests.log_guard", "tests.browser.plugin"]

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("default")

DEFAULT_KEY = "oiq-default-key-0001"

BASIC_SOURCES = """
sources:
  crm:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    timezone: America/Chicago
    defaults: {lead_source: crm}
  other:
    mapping: generic
    auth: {type: bearer, secret: other-hook-secret}
    api_key: oiq-other-key-0002
"""


def dial_body(**overrides: Any) -> dict[str, Any]:
    """A valid Dials-shaped webhook body."""
    body: dict[str, Any] = {
        "campaign_id": "abc-123",
        "campaign_name": "Q2 Outbound Push",
        "agent_name": "Jane Doe",
        "ani": "+1 (512) 555-0100",
        "disposition_name": "Sale",
        "prospect_phone": "512-555-0187",
        "datetime": "2026-04-10T14:32:15Z",
        "call_direction": "predictive",
        "zip": "78701-1234",
        "sys_created_date_original": "2026-04-01",
        "total_dial_attempts": "3",
        "skill_name": "Sales Tier 1",
        "lead_source": "facebook-ads",
        "dial_id": "call-0001",
    }
    body.update(overrides)
    return body


@pytest.fixture
def fake() -> Iterator[FakeOutboundIQ]:
    server = FakeOutboundIQ().start()
    yield server
    server.stop()


@pytest.fixture
def make_settings(tmp_path: Path, fake: FakeOutboundIQ) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "port": 0,
            "outboundiq_url": fake.url,
            "outboundiq_api_key": DEFAULT_KEY,
            "queue_url": f"sqlite:///{tmp_path}/queue.db",
            "retry_base_seconds": 0.05,
            "retry_cap_seconds": 0.5,
            "forward_timeout_seconds": 2.0,
            "key_probe_seconds": 0.5,
            "shutdown_grace_seconds": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def make_sources() -> Callable[..., dict[str, Source]]:
    def factory(text: str = BASIC_SOURCES, env: dict[str, str] | None = None) -> dict[str, Source]:
        from pydantic import SecretStr

        return parse_sources(text, env=env or {}, default_api_key=SecretStr(DEFAULT_KEY))

    return factory


@pytest.fixture
def start_relay(
    make_settings: Callable[..., Settings], make_sources: Callable[..., dict[str, Source]]
) -> Iterator[Callable[..., RelayThread]]:
    started: list[RelayThread] = []

    def factory(
        sources_yaml: str = BASIC_SOURCES, settings: Settings | None = None, **overrides: Any
    ) -> RelayThread:
        relay = RelayThread(
            settings or make_settings(**overrides), sources=make_sources(sources_yaml)
        ).start()
        started.append(relay)
        return relay

    yield factory
    for relay in started:
        relay.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def configure_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Point the `relay` CLI (env settings) at a sources file and this test's queue."""

    def factory(sources_yaml: str = BASIC_SOURCES, **overrides: Any) -> Settings:
        sources = tmp_path / "sources.yaml"
        sources.write_text(sources_yaml)
        settings = make_settings(sources_file=sources, **overrides)
        monkeypatch.setenv("RELAY_QUEUE_URL", settings.queue_url)
        monkeypatch.setenv("RELAY_SOURCES_FILE", str(sources))
        monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", DEFAULT_KEY)
        return settings

    return factory
