"""The suite-wide log guard (tests/log_guard.py) sees every line and knows what a leak is."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import dial_body
from tests.log_guard import GUARD, LogGuard, unmasked_test_phones
from tests.support.relay_server import RelayThread

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "text",
    ["+1 (512) 555-0187", "5125550187", "15125550187", "512.555.0100", "tel:+15125550100"],
)
def test_guard_spots_test_phone_numbers(text: str) -> None:
    """A 555-exchange number in any format counts as an unmasked phone."""
    assert unmasked_test_phones(f"event=x value={text} end")


@pytest.mark.parametrize(
    "text",
    [
        "******0187",
        "2026-04-10T14:32:15Z",
        "call-0001",
        "duration_ms=5550.12",
        "port 5555",
        "request_id=55805559-235f-4e07-9ece-9dca74b21e06",  # a random UUID CI once met
    ],
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


LEAKY = """
import structlog
from pydantic import SecretStr


def test_logs_a_secret():
    SecretStr("inner-run-secret-0001")
    structlog.get_logger("relay.test").info("oops", token="inner-run-secret-0001")


def test_writes_a_phone_into_a_log_file(tmp_path):
    (tmp_path / "relay.log").write_text("prospect 512-555-0187\\n")
"""


@pytest.mark.slow
def test_guard_fails_the_run_also_under_xdist(tmp_path: Path) -> None:
    """A leak seen in a pytest-xdist worker fails the whole run and is reported."""
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    # Its own temporary root, outside this run's: its leaky log file is not this run's leak.
    with tempfile.TemporaryDirectory(prefix="log-guard-") as basetemp:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "-p", "tests.log_guard"),
                *("-p", "no:cacheprovider", "-n", "2", "--basetemp", basetemp),
            ],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    out = run.stdout
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, out[-2000:]
    assert "2 passed" in out and "log guard: secrets or phone numbers in log lines" in out
    assert "test_leaky.py::test_logs_a_secret: secret in" in out
    assert "inner-run-secret-0001" not in out  # the report does not leak it either
    assert "relay.log: phone '512-555-0187'" in out
