"""A running relay with the console on (an admin token), and a signed-in HTTP client."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import queue_mode
from tests.support.relay_server import RelayThread

__all__ = ["ADMIN_TOKEN", "csrf_of", "queue_mode", "sign_in", "wait_for_page"]

ADMIN_TOKEN = "console-admin-token-0123456789"


def sign_in(client: httpx.Client, token: str = ADMIN_TOKEN) -> httpx.Response:
    return client.post("/console/login", data={"token": token, "next": "/console/"})


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def console_relay(start_relay: Callable[..., RelayThread]) -> Callable[..., RelayThread]:
    def factory(*args: Any, **overrides: Any) -> RelayThread:
        overrides.setdefault("admin_token", ADMIN_TOKEN)
        return start_relay(*args, **overrides)

    return factory


@pytest.fixture
def signed_in(console_relay: Callable[..., RelayThread]) -> Iterator[httpx.Client]:
    relay = console_relay()
    with httpx.Client(base_url=relay.url) as client:
        assert sign_in(client).status_code == 303
        yield client


def wait_for_page(client: httpx.Client, path: str, marker: str, timeout: float = 10.0) -> str:
    """The page at ``path`` once it holds ``marker`` (the last one read after ``timeout``)."""
    deadline = time.monotonic() + timeout
    page = ""
    while time.monotonic() < deadline:
        page = client.get(path).text
        if marker in page:
            break
        time.sleep(0.05)
    return page
