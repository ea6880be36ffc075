"""The overview in a real browser: it refreshes itself, shows a webhook, follows a SIGHUP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import FileRelay
from tests.browser.support import screenshot, sign_in
from tests.conftest import BASIC_SOURCES, dial_body
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
#: The overview fetches its body every 2 s (data-every); this leaves room for one slow fetch.
REFRESH_TIMEOUT_MS = 4_000

SHOWCASE = (
    BASIC_SOURCES
    + """\
  five9-sales:
    mapping: five9
    auth: {type: query, param: token, secret: f9-hook-secret}
    timezone: America/New_York
"""
)


def _stays(page: Page) -> None:
    page.evaluate("() => { window.sameDocument = true; }")


def _stayed(page: Page) -> bool:
    return bool(page.evaluate("() => window.sameDocument === true"))


def test_a_webhook_shows_on_the_overview_without_a_reload(
    page: Page, console_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = console_relay()
    fake.fail_dial("br-1", Reply(400, b'{"error": "bad phone"}'))
    sign_in(page, relay.url)
    overview = page.locator("#overview")
    expect(overview).to_have_attribute("data-every", "2")
    expect(page.get_by_role("heading", name="Healthy")).to_be_visible()
    expect(page.locator('[data-stat="dead"]')).to_have_text("0")
    _stays(page)

    hook = httpx.post(
        relay.url + "/hooks/crm",
        json=dial_body(dial_id="br-1", prospect_phone="512-555-0187"),
        headers=CRM,
    )
    assert hook.status_code == 202
    assert fake.wait_for(lambda: any(r.status == 400 for r in fake.requests))

    expect(page.locator('[data-stat="dead"]')).to_have_text("1", timeout=REFRESH_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Needs attention")).to_be_visible()
    expect(page.locator(".problems")).to_contain_text("1 dial(s) in the dead-letter store")
    assert _stayed(page)  # console.js replaced the body; the page was not reloaded


def test_a_source_s_row_counts_its_webhooks(
    page: Page, console_relay: Callable[..., RelayThread], fake: FakeOutboundIQ
) -> None:
    relay = console_relay()
    sign_in(page, relay.url)
    row = page.locator('tr[data-source="crm"]')
    expect(row.locator("td.last")).to_have_text("never")
    hook = httpx.post(relay.url + "/hooks/crm", json=dial_body(dial_id="br-2"), headers=CRM)
    assert hook.status_code == 202
    fake.wait_accepted(1)
    expect(row.locator("td.hour [data-outcome]").first).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(row.locator("td.last")).not_to_have_text("never")


def test_a_source_added_to_the_file_appears_after_sighup(
    page: Page, file_relay: Callable[..., FileRelay]
) -> None:
    relay = file_relay()
    sign_in(page, relay.url)
    expect(page.locator("tr[data-source]")).to_have_count(2)
    _stays(page)
    relay.sources_file.write_text(
        BASIC_SOURCES
        + "  late:\n    mapping: generic\n"
        + "    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}\n"
    )
    relay.reload()
    row = page.locator('tr[data-source="late"]')
    expect(row).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(row.locator("code.url")).to_have_text(relay.url + "/hooks/late")
    assert _stayed(page)


def test_overview_screenshot(
    page: Page,
    console_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    shots: Path,
) -> None:
    """docs/console.md's picture: three sources, some traffic, a healthy relay."""
    relay = console_relay(SHOWCASE, public_url="https://relay.example.com")
    with httpx.Client(base_url=relay.url) as client:
        for n in range(1, 5):
            body = dial_body(dial_id=f"shot-{n}", prospect_phone=f"512-555-018{n}")
            assert client.post("/hooks/crm", json=body, headers=CRM).status_code == 202
        for n in range(5, 7):
            body = dial_body(dial_id=f"shot-{n}", prospect_phone=f"512-555-018{n}")
            bearer = {"Authorization": "Bearer other-hook-secret"}
            assert client.post("/hooks/other", json=body, headers=bearer).status_code == 202
        assert client.post("/hooks/other", json=dial_body()).status_code == 401
    assert len(fake.wait_accepted(6)) == 6
    sign_in(page, relay.url)
    expect(page.locator("tr[data-source]")).to_have_count(3)
    expect(page.get_by_role("heading", name="Healthy")).to_be_visible()
    expect(page.locator(".url").first).to_have_text("https://relay.example.com/hooks/crm")
    screenshot(page, shots, "overview")
