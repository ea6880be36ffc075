"""The suite-wide log guard (tests/log_guard.py) sees every line and knows what a leak is."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import dial_body
from tests.log_guard import GUARD, LogGuard, unmasked_test_phones
from tests.support.relay_server import RelayThread


@pytest.mark.parametrize(
    "text",
    ["+1 (512) 555-0187", "5125550187", "15125550187", "512.555.0100", "tel:+15125550100"],
)
def test_guard_spots_test_phone_numbers(text: str) -> None:
    """A 555-exchange number in any format counts as an unmasked phone."""
    assert unmasked_test_phones(f"event=x value={text} end")


@pytest.mark.parametrize(
    "text", ["******0187", "2026-04-10T14:32:15Z", "call-0001", "duration_ms=5550.12", "port 5555"]
)
def test_guard_ignores_masked_numbers_and_dates(text: str) -> None:
    """Masked phones, timestamps and ordinary numbers are not leaks."""
    assert unmasked_test_phones(text) == []


def test_guard_spots_remembered_secrets() -> None:
    """A remembered secret in a line is a leak; very short secrets are not tracked."""
    guard = LogGuard()
    guard.remember_secret("long-enough-secret")
    guard.remember_secret("bee")
    assert guard.problems('{"token": "long-enough-secret"}')
    assert guard.problems("been there") == []


def test_guard_records_relay_logs_and_configured_secrets(
    start_relay: Callable[..., RelayThread], request: pytest.FixtureRequest
) -> None:
    """Relay log lines of this test reach the guard, and the sources' secrets are known to it."""
    relay = start_relay()
    headers = {"X-Relay-Token": "crm-hook-secret"}
    assert (
        httpx.post(f"{relay.url}/hooks/crm", json=dial_body(), headers=headers).status_code == 202
    )
    relay.stop()
    mine = [text for where, text in GUARD.lines if where == request.node.nodeid]
    assert any('"webhook_received"' in text for text in mine)
    assert {"crm-hook-secret", "other-hook-secret", "oiq-default-key-0001"} <= GUARD.secrets
