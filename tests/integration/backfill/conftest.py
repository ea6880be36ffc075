"""Backfill runs on both queue backends: every test here that takes ``backend`` runs twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.config.settings import Settings
from tests.support.redis import REDIS_URL, unique_prefix


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Settings overrides for the queue: this test's SQLite file, or Redis under a prefix of
    its own (its keys deleted afterwards)."""
    if request.param == "sqlite":
        yield {}
        return
    with unique_prefix(tmp_path) as prefix:
        yield {"queue_url": REDIS_URL, "redis_key_prefix": prefix}


@pytest.fixture
def backend_cli(
    configure_cli: Callable[..., Settings],
    backend: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Settings]:
    """``configure_cli`` on this test's backend (the `relay` CLI reads the prefix too)."""

    def factory(sources_yaml: str, **overrides: Any) -> Settings:
        settings = configure_cli(sources_yaml, **backend, **overrides)
        monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", settings.redis_key_prefix)
        return settings

    return factory
