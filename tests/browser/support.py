"""What browser tests share: signing in, the page watch (CSP, script errors, leaks), screenshots.

A new page's test needs only the fixtures of ``tests/browser/conftest.py``::

    def test_my_page(page: Page, console_relay: Callable[..., RelayThread]) -> None:
        relay = console_relay()
        sign_in(page, relay.url)
        page.get_by_role("link", name="Dials").click()
        expect(page.locator("[data-dial-id]")).to_have_count(1)

The ``page`` fixture fails the test afterwards on any CSP violation, script error, failed
asset, secret or full phone number in the rendered DOM (``PageWatch``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Error, Page, Response, expect

from tests.console.conftest import ADMIN_TOKEN
from tests.log_guard import unmasked_test_phones

ROOT = Path(__file__).resolve().parents[2]
#: ``RELAY_SCREENSHOTS=docs/img`` (``make screenshots``) writes the docs' screenshots there.
SCREENSHOTS_ENV = "RELAY_SCREENSHOTS"
VIEWPORT = {"width": 1280, "height": 800}
#: Secrets no rendered page may show (the admin token, the test sources' hook secrets and keys).
SECRETS = (
    ADMIN_TOKEN,
    "crm-hook-secret",
    "other-hook-secret",
    "oiq-other-key-0002",
    "oiq-default-key-0001",
    "f9-hook-secret",
)

#: Run in every page before its own scripts: report CSP violations as console errors.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.sourceFile + ":" + e.lineNumber);
}, true);
"""

_HTTP_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of")


@dataclass
class PageWatch:
    """Everything wrong a page did while the test drove it."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # HTTP answers are checked in _response (a page's own 401 or 404 may be the point)
        if message.type == "error" and not _HTTP_STATUS.match(message.text):
            self.problems.append(f"console error: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.problems.append(
                f"{response.status} for {response.request.resource_type} {response.url}"
            )

    def leaks(self, page: Page, secrets: Iterable[str] = SECRETS) -> list[str]:
        """Secrets and full phone numbers in the page's rendered DOM (and its text)."""
        try:
            html = page.content() + page.inner_text("body")
        except Error:  # the page is gone (closed by the test)
            return []
        found = [f"secret {s[:3]}... in the page" for s in secrets if s in html]
        return found + [f"phone {p!r} in the page" for p in unmasked_test_phones(html)]


def sign_in(page: Page, base_url: str, token: str = ADMIN_TOKEN) -> None:
    """Sign in through the form, as a person would; ends on the overview."""
    page.goto(base_url + "/console/login")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(base_url) + r"/console/?$"))


def screenshot_dir(fallback: Path) -> Path:
    """Where screenshots go: ``$RELAY_SCREENSHOTS`` (relative to the repository) or ``fallback``."""
    chosen = os.environ.get(SCREENSHOTS_ENV, "").strip()
    target = (ROOT / chosen) if chosen else fallback
    target.mkdir(parents=True, exist_ok=True)
    return target


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """``console-<name>.png`` of the viewport, animations stopped, caret hidden."""
    path = directory / f"console-{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
