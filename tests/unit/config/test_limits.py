"""A source's `rate_limit`, as written in the sources file."""

from __future__ import annotations

import pytest

from relay.config.limits import RateLimit


@pytest.mark.parametrize("text", ["2/s", "600/min", "10000/hour", "5 / minute"])
def test_rate_limit_shorthand(text: str) -> None:
    """Rates can be written as `N/s`, `N/min` or `N/hour`."""
    assert RateLimit.model_validate(text).per_second > 0


def test_rate_limit_shorthand_rejects_nonsense() -> None:
    """An unreadable rate is a configuration error."""
    with pytest.raises(ValueError, match="50/s"):
        RateLimit.model_validate("fast")
