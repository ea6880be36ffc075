"""Signing in and out of the console in a real browser, by mouse and by keyboard."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from relay.console.session import COOKIE
from tests.browser.support import PageWatch, screenshot, sign_in
from tests.console.conftest import ADMIN_TOKEN
from tests.support.relay_server import RelayThread


def test_a_wrong_token_shows_the_error_and_sets_no_cookie(
    page: Page, console_relay: Callable[..., RelayThread], shots: Path
) -> None:
    relay = console_relay()
    page.goto(relay.url + "/console/")
    expect(page).to_have_url(relay.url + "/console/login?next=/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, shots, "sign-in")
    page.get_by_label("Admin token").fill("not-the-admin-token-at-all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    expect(page.get_by_label("Admin token")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]


def test_signing_in_and_out_with_the_keyboard_only(
    page: Page, console_relay: Callable[..., RelayThread]
) -> None:
    relay = console_relay()
    page.goto(relay.url + "/console/login")
    token = page.get_by_label("Admin token")
    expect(token).to_be_focused()  # autofocus: type straight away
    page.keyboard.type(ADMIN_TOKEN)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.get_by_role("heading", name="Sources")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in cookie["value"]

    page.keyboard.press("Tab")  # the first stop skips the header
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    sign_out = page.get_by_role("button", name="Sign out")
    for _ in range(12):  # brand, the six pages, then the sign-out button
        if sign_out.evaluate("b => b === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(sign_out).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(relay.url + "/console/")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_a_page_asked_for_before_signing_in_opens_after_it(
    page: Page, console_relay: Callable[..., RelayThread]
) -> None:
    relay = console_relay()
    page.goto(relay.url + "/console/overview")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_label("Admin token").press("Enter")
    expect(page).to_have_url(relay.url + "/console/overview")


def test_the_watch_catches_an_inline_script(
    page: Page, watch: PageWatch, console_relay: Callable[..., RelayThread]
) -> None:
    """The CSP net of every browser test holds: an injected inline script is refused, seen."""
    relay = console_relay()
    sign_in(page, relay.url)
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.ran = true"; document.body.append(s); }"""
    )
    assert page.evaluate("() => window.ran === undefined")  # the CSP blocked it
    deadline = time.monotonic() + 5
    while not any("CSP violation" in p for p in watch.problems):
        assert time.monotonic() < deadline, watch.problems
        page.wait_for_timeout(20)  # lets Playwright deliver the page's console events
    watch.problems.clear()  # seen: the page fixture must not fail this test
