"""Browser tests: find Debian's Chromium, or skip them LOUDLY (or fail, in CI).

Registered for the whole suite (``tests/conftest.py``), so the terminal summary can say, in
one banner, that the browser tests were skipped, whether or not pytest-xdist spread them over
workers: a skipped browser test's reason starts with ``SKIP_REASON``, and the summary looks for
it among the skip reports the controller receives. With ``RELAY_REQUIRE_BROWSER=1`` (``.ci/run``
sets it) a missing Chromium fails the browser tests instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

#: Debian's chromium package (``apt-get install chromium``); Playwright's own download is
#: closed here (docs/console.md, "Browser tests").
CHROMIUM = Path(os.environ.get("RELAY_CHROMIUM", "/usr/bin/chromium"))
#: As root, Chromium needs --no-sandbox; the rest keep it off the (closed) internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_ENV = "RELAY_REQUIRE_BROWSER"
SKIP_REASON = "BROWSER TESTS SKIPPED: install Debian's chromium"
BANNER = "BROWSER TESTS SKIPPED: install Debian's chromium (apt-get install chromium)"


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip() not in ("", "0", "false", "no")


def require_chromium() -> Path:
    """The Chromium binary; else skip the test loudly, or fail it when one is required."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if browser_required():
        pytest.fail(f"{CHROMIUM} is missing and {REQUIRE_ENV}=1: install Debian's chromium")
    pytest.skip(f"{SKIP_REASON} ({CHROMIUM} is missing; apt-get install chromium)")


def skip_reason(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


_SKIPPED = pytest.StashKey[int]()
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every browser test in one xdist group: they run together, on one worker, so the
    Playwright event loop of a module never shares a worker's thread with another test."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    reports = terminalreporter.stats.get("skipped", [])
    config.stash[_SKIPPED] = sum(SKIP_REASON in skip_reason(r) for r in reports)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The banner, last of all (after pytest's own summary lines), so no one misses it."""
    skipped = config.stash.get(_SKIPPED, 0)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not skipped or reporter is None:
        return
    reporter.write_sep("!", BANNER, red=True, bold=True)
    reporter.write_line(
        f"{skipped} browser test(s) did not run: {CHROMIUM} is missing. "
        f"`.ci/run` installs it; set {REQUIRE_ENV}=1 to make this a failure.",
        red=True,
        bold=True,
    )
    reporter.write_sep("!", BANNER, red=True, bold=True)
