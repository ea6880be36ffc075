"""The browser tests' gate: skip loudly without Chromium, fail when CI requires it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.browser import plugin


def test_a_missing_chromium_skips_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(plugin, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.delenv(plugin.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=plugin.SKIP_REASON):
        plugin.require_chromium()


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_a_missing_chromium_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setattr(plugin, "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv(plugin.REQUIRE_ENV, value)
    with pytest.raises(pytest.fail.Exception, match="RELAY_REQUIRE_BROWSER"):
        plugin.require_chromium()


def test_an_executable_chromium_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = tmp_path / "chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setattr(plugin, "CHROMIUM", binary)
    monkeypatch.setenv(plugin.REQUIRE_ENV, "1")
    assert plugin.require_chromium() == binary


def test_the_banner_counts_skips_from_workers_too() -> None:
    """A local skip's longrepr and an xdist worker's (path, line, reason) tuple both count."""
    reason = f"Skipped: {plugin.SKIP_REASON} (/usr/bin/chromium is missing)"
    reports = [
        SimpleNamespace(longrepr=("tests/browser/test_x.py", 3, reason)),
        SimpleNamespace(longrepr=("tests/unit/test_y.py", 9, "Skipped: needs Redis")),
        SimpleNamespace(longrepr=None),
    ]
    assert [plugin.SKIP_REASON in plugin.skip_reason(r) for r in reports] == [True, False, False]
