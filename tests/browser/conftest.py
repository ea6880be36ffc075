"""Browser fixtures: one headless Chromium per worker, a fresh context and page per test.

* ``browser``: Debian's Chromium driven by Playwright, once per test module: Playwright's sync
  API keeps an event loop running in the thread while it lives, which would break every later
  test that runs one of its own (``asyncio.run``), so it stops with the module, and the browser
  tests are one xdist group (``tests/browser/plugin.py``), run together on one worker; skips
  loudly when it is missing, fails when ``RELAY_REQUIRE_BROWSER=1``
  (``tests/browser/plugin.py``).
* ``page``: a new context (1280x800, its own cookies) and page; afterwards the test fails on
  any CSP violation, script error, failed asset, secret or full phone number in the DOM.
* ``console_relay`` / ``signed_in``: the relay in-process with the console on
  (``tests/console/conftest.py``); ``file_relay``: ``python -m relay serve`` as a child process
  reading a sources file of its own, for tests that edit the file and send SIGHUP.
* ``shots``: the screenshot folder (``$RELAY_SCREENSHOTS``, else a temporary one).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.browser.plugin import CHROMIUM_ARGS, require_chromium
from tests.browser.support import CSP_LISTENER, ROOT, VIEWPORT, PageWatch, screenshot_dir
from tests.conftest import BASIC_SOURCES, DEFAULT_KEY
from tests.console.conftest import ADMIN_TOKEN, console_relay, signed_in
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.relay_server import RelayProcess

__all__ = ["console_relay", "signed_in"]  # the console tests' relay fixtures, shared


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    executable = require_chromium()  # before starting the driver: a skip costs nothing
    assert executable
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(require_chromium()), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, watch: PageWatch) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.add_init_script(CSP_LISTENER)
    tab = context.new_page()
    watch.attach(tab)
    yield tab
    leaks = watch.leaks(tab)
    context.close()
    problems = watch.problems + leaks
    assert not problems, "the page misbehaved:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("screenshots"))


@dataclass
class FileRelay:
    """A relay process serving the sources in ``sources_file``; ``reload()`` is kill -HUP."""

    process: RelayProcess
    sources_file: Path

    @property
    def url(self) -> str:
        return self.process.url

    def reload(self, timeout: float = 15.0) -> None:
        """SIGHUP, then wait for the relay to log that it re-read the file (or failed to)."""
        assert self.process.proc is not None
        before = self._reloads()
        self.process.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self._reloads() == before:
            assert time.monotonic() < deadline, "the relay did not reload its sources"
            time.sleep(0.05)

    def _reloads(self) -> int:
        logs = self.process.logs()
        return logs.count("config_reloaded") + logs.count("config_reload_failed")


@pytest.fixture
def file_relay(tmp_path: Path, fake: FakeOutboundIQ) -> Iterator[Callable[..., FileRelay]]:
    """Start relays (child processes) whose sources file the test may edit and reload."""
    started: list[FileRelay] = []

    def factory(sources_yaml: str = BASIC_SOURCES, **env: str) -> FileRelay:
        n = len(started)
        sources = tmp_path / f"sources-{n}.yaml"
        sources.write_text(sources_yaml)
        settings = {
            "RELAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "RELAY_SOURCES_FILE": str(sources),
            "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue-{n}.db",
            "RELAY_OUTBOUNDIQ_URL": fake.url,
            "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
            "RELAY_RETRY_BASE_SECONDS": "0.05",
            "RELAY_RETRY_CAP_SECONDS": "0.5",
            "RELAY_LOG_LEVEL": "INFO",
            "RELAY_SHUTDOWN_GRACE_SECONDS": "2",
            **env,
        }
        process = RelayProcess(settings, cwd=ROOT, log_path=tmp_path / f"relay-{n}.log")
        relay = FileRelay(process, sources)
        started.append(relay)
        process.start()
        return relay

    yield factory
    for relay in started:
        if relay.process.proc is not None and relay.process.proc.poll() is None:
            relay.process.kill()
