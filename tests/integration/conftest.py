"""What the integration tests share beyond tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.redis import REDIS_URL, unique_prefix


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue_mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The settings of each queue backend (Redis: a prefix of this test's own)."""
    if request.param == "sqlite":
        yield {}
        return
    with unique_prefix(tmp_path) as prefix:
        yield {"queue_url": REDIS_URL, "redis_key_prefix": prefix}
