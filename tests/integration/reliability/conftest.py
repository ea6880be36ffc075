"""Reliability fixtures: the relay as a real child process, with its sources on disk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayProcess

ROOT = Path(__file__).resolve().parents[3]

SOURCES = """
sources:
  crm:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
  other:
    mapping: generic
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
    api_key: oiq-other-key-0002
"""


@pytest.fixture
def relay_process(tmp_path: Path, fake: FakeOutboundIQ) -> Iterator[Callable[..., RelayProcess]]:
    """Start `python -m relay serve` children on one queue file; all killed at teardown."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES)
    started: list[RelayProcess] = []

    def factory(**env: str) -> RelayProcess:
        base = {
            "RELAY_SOURCES_FILE": str(sources),
            "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
            "RELAY_OUTBOUNDIQ_URL": fake.url,
            "RELAY_OUTBOUNDIQ_API_KEY": "oiq-default-key-0001",
            "RELAY_RETRY_BASE_SECONDS": "0.05",
            "RELAY_RETRY_CAP_SECONDS": "0.5",
            "RELAY_LOG_LEVEL": "WARNING",
            "RELAY_SHUTDOWN_GRACE_SECONDS": "5",
        }
        base.update(env)
        proc = RelayProcess(base, cwd=ROOT, log_path=tmp_path / f"relay-{len(started)}.log")
        started.append(proc)
        return proc.start()

    yield factory
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.kill()
