"""The mapping playground: a rejected webhook loaded by id, fixed by an edit, nothing stored.

A real relay reads a real sources file (one source with its secrets inline, one with
``${VAR}`` references); the tests speak HTTP to it and check what the pages show, what they
never show (secrets, full phone numbers), and that nothing is queued, written or counted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from relay.config.settings import Settings
from tests.console.conftest import ADMIN_TOKEN, csrf_of, sign_in
from tests.log_guard import unmasked_test_phones
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

INLINE_SECRET = "acme-inline-hook-secret-7f3a"
INLINE_KEY = "oiq-acme-inline-key-0042"
ENV_SECRET = "envsrc-hook-secret-from-env-91"
ENV_KEY = "oiq-envsrc-key-from-env-0077"
SECRETS = (INLINE_SECRET, INLINE_KEY, ENV_SECRET, ENV_KEY)

SOURCES = f"""
sources:
  acme:
    mapping: generic
    auth: {{type: header, header: X-Relay-Token, secret: {INLINE_SECRET}}}
    api_key: {INLINE_KEY}
    timezone: America/Chicago
    defaults: {{lead_source: crm}}
    options:
      fields:
        prospect_phone: phone_number
  envsrc:
    mapping: generic
    auth: {{type: bearer, secret: "${{ENVSRC_HOOK_SECRET}}"}}
    api_key: "${{ENVSRC_API_KEY}}"
    timezone: America/New_York
"""

#: What the dialer sends: its phone key is `PhoneNumber`, the options expect `phone_number`.
HOOK_BODY = {
    "PhoneNumber": "512-555-0187",
    "ani": "+1 (512) 555-0100",
    "disposition_name": "Sale",
    "datetime": "2026-04-10 09:32:15",
    "dial_id": "pg-0001",
    "crm_note": "call back",
}
FIXED_OPTIONS = "fields:\n  prospect_phone: PhoneNumber\n"


@pytest.fixture
def sources_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVSRC_HOOK_SECRET", ENV_SECRET)
    monkeypatch.setenv("ENVSRC_API_KEY", ENV_KEY)
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES, encoding="utf-8")
    return path


@pytest.fixture
def file_relay(
    make_settings: Callable[..., Settings], sources_file: Path
) -> Iterator[Callable[..., RelayThread]]:
    started: list[RelayThread] = []

    def factory(**overrides: Any) -> RelayThread:
        settings = make_settings(sources_file=sources_file, admin_token=ADMIN_TOKEN, **overrides)
        relay = RelayThread(settings).start()  # the sources come from the file
        started.append(relay)
        return relay

    yield factory
    for relay in started:
        relay.stop()


def _no_secret_no_phone(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert unmasked_test_phones(text) == []


def _row(html: str, name: str) -> str:
    return html.split(f'data-field="{name}"', 1)[1].split("</tr>", 1)[0]


def _webhook_counts(client: httpx.Client) -> list[str]:
    text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith("relay_webhooks_total")]


def _reject_one(relay: RelayThread, client: httpx.Client) -> str:
    hook = client.post("/hooks/acme", json=HOOK_BODY, headers={"X-Relay-Token": INLINE_SECRET})
    assert hook.status_code == 422, hook.text
    records = relay.call(relay.runtime.queue.list_rejected(source="acme"))
    assert len(records) == 1
    return str(records[0].id)


def _fix_rejected_in_the_playground(relay: RelayThread, sources_file: Path) -> None:
    with httpx.Client(base_url=relay.url) as client:
        record_id = _reject_one(relay, client)
        before_file = (sources_file.read_bytes(), sources_file.stat().st_mtime_ns)
        stats_before = relay.call(relay.runtime.queue.stats(now=time.time()))
        hooks_before = _webhook_counts(client)
        sign_in(client)

        # the recent rejected requests of the source, each with a Load link
        listing = client.get("/console/playground", params={"source": "acme"}).text
        assert f'/console/playground?rejected={record_id}"' in listing
        assert 'data-outcome="' not in listing  # nothing run yet

        # loaded by id: run at once, the error beside the right field, the body masked
        page = client.get("/console/playground", params={"rejected": record_id})
        assert page.status_code == 200
        html = page.text
        assert 'data-outcome="rejected"' in html
        assert "required, but missing or empty" in _row(html, "prospect_phone")
        assert "data-error" not in _row(html, "ani")
        assert 'id="pg-rejected-body"' in html and "******0187" in html
        assert f'name="rejected" value="{record_id}"' in html
        assert 'name="body"' not in html  # the stored body is read by id, never a form field
        assert "prospect_phone: phone_number" in html  # the options, as the file writes them
        _no_secret_no_phone(html)
        csrf = csrf_of(html)

        # the page's script: the fragment for the edited options
        with capture_logs() as logs:
            part = client.post(
                "/console/playground/result",
                data={
                    "source": "acme",
                    "rejected": record_id,
                    "options": FIXED_OPTIONS,
                    "defaults": "lead_source: crm\n",
                    "dispositions": "",
                },
                headers={"X-CSRF-Token": csrf},
            )
        assert part.status_code == 200
        fixed = part.text
        assert "<html" not in fixed
        assert 'data-outcome="ok"' in fixed
        assert 'id="pg-dial"' in fixed
        phone = _row(fixed, "prospect_phone")
        assert "<code>PhoneNumber</code>" in phone and "normalize_phone" in phone
        assert "******0187" in phone and "data-error" not in phone
        assert "data-default" in _row(fixed, "lead_source")
        assert "normalize_datetime" in _row(fixed, "datetime")
        assert "<code>crm_note</code>" in fixed.split('id="pg-unused"', 1)[1]
        stanza = fixed.split('id="pg-stanza-text"', 1)[1].split("</pre>", 1)[0]
        assert "prospect_phone: PhoneNumber" in stanza
        assert "${ACME_AUTH_SECRET}" in stanza and "${ACME_API_KEY}" in stanza
        assert "kill -HUP" in fixed
        _no_secret_no_phone(fixed)
        actions = [e for e in logs if e.get("event") == "console_action"]
        assert [(e["action"], e["source"], e["status"]) for e in actions] == [
            ("playground", "acme", "ok")
        ]
        assert "body" not in actions[0] and "options" not in actions[0]

        # without the script: the whole page posted, the same result
        full = client.post(
            "/console/playground",
            data={"csrf": csrf, "source": "acme", "rejected": record_id,
                  "options": FIXED_OPTIONS, "defaults": "", "dispositions": ""},
        )  # fmt: skip
        assert full.status_code == 200
        assert "<html" in full.text and 'data-outcome="ok"' in full.text
        _no_secret_no_phone(full.text)

        # nothing queued, nothing written, no hook counted, the rejected request kept
        stats_after = relay.call(relay.runtime.queue.stats(now=time.time()))
        assert (stats_after.ready, stats_after.delayed, stats_after.leased) == (
            stats_before.ready,
            stats_before.delayed,
            stats_before.leased,
        )
        assert stats_after.rejected == stats_before.rejected == 1
        assert _webhook_counts(client) == hooks_before
        assert (sources_file.read_bytes(), sources_file.stat().st_mtime_ns) == before_file
        assert relay.call(relay.runtime.queue.get_rejected(record_id)) is not None


def test_a_rejected_webhook_is_fixed_in_the_playground_on_sqlite(
    file_relay: Callable[..., RelayThread], sources_file: Path
) -> None:
    _fix_rejected_in_the_playground(file_relay(), sources_file)


@pytest.mark.redis
def test_a_rejected_webhook_is_fixed_in_the_playground_on_redis(
    file_relay: Callable[..., RelayThread], sources_file: Path, tmp_path: Path
) -> None:
    with unique_prefix(tmp_path) as prefix:
        relay = file_relay(queue_url=REDIS_URL, redis_key_prefix=prefix)
        _fix_rejected_in_the_playground(relay, sources_file)


@pytest.fixture
def signed(file_relay: Callable[..., RelayThread]) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in to a relay reading the sources file, and its CSRF token."""
    with httpx.Client(base_url=file_relay().url) as client:
        sign_in(client)
        yield client, csrf_of(client.get("/console/playground").text)


def test_bad_yaml_is_a_problem_beside_its_box_never_a_500(
    signed: tuple[httpx.Client, str],
) -> None:
    client, csrf = signed
    form = {"csrf": csrf, "source": "acme", "body": "{}", "method": "POST",
            "content_type": "application/json", "options": "fields: [",
            "defaults": "- zip\n", "dispositions": ""}  # fmt: skip
    for url in ("/console/playground", "/console/playground/result"):
        answer = client.post(url, data=form)
        assert answer.status_code == 200
        problems = answer.text.split('id="pg-problems-options"', 1)[1].split("</div>", 1)[0]
        assert 'data-problems="options"' in problems and "<code>options</code>" in problems
        assert 'data-problems="defaults"' in answer.text
        assert 'data-status="edit_problems"' in answer.text
        assert 'id="pg-stanza-text"' not in answer.text


def test_a_pasted_request_on_a_source_with_references(
    signed: tuple[httpx.Client, str],
) -> None:
    """A form body pasted for a source whose secrets are `${VAR}` references: the result is
    masked, the fragment does not echo the body, the stanza keeps the references."""
    client, csrf = signed
    page = client.get("/console/playground", params={"source": "envsrc"}).text
    assert "envsrc (mapping generic, auth bearer)" in page
    _no_secret_no_phone(page)
    body = "prospect_phone=%2B1+512+555+0187&disposition_name=NA&datetime=2026-04-10+09:00"
    form = {"source": "envsrc", "body": body, "method": "POST",
            "content_type": "application/json",
            "content_type_other": "application/x-www-form-urlencoded",
            "query": "ani=5125550100", "options": "", "defaults": "zip: '07030'\n",
            "dispositions": "na: No Answer\n"}  # fmt: skip
    part = client.post("/console/playground/result", data=form, headers={"X-CSRF-Token": csrf}).text
    assert 'data-outcome="ok"' in part
    assert "******0187" in _row(part, "prospect_phone")
    assert "<code>ani</code>" in _row(part, "ani")  # from the query string
    assert "data-default" in _row(part, "zip")
    assert "dispositions table" in _row(part, "disposition_name")
    assert "555+0187" not in part  # the body is not echoed back
    stanza = part.split('id="pg-stanza-text"', 1)[1].split("</pre>", 1)[0]
    assert "${ENVSRC_HOOK_SECRET}" in stanza and "${ENVSRC_API_KEY}" in stanza
    assert "zip: &#39;07030&#39;" in stanza
    _no_secret_no_phone(part)
    # without the script the page shows the user's own text in its boxes, and only there
    full = client.post("/console/playground", data={**form, "csrf": csrf}).text
    box = re.search(r'<textarea id="pg-body"[^>]*>(.*?)</textarea>', full, re.S)
    query = re.search(r'<input type="text" id="pg-query"[^>]*>', full)
    assert box is not None and "555+0187" in box.group(1)
    assert query is not None and "5125550100" in query.group(0)
    rest = full.replace(box.group(0), "").replace(query.group(0), "")
    assert 'data-outcome="ok"' in rest
    _no_secret_no_phone(rest)


def test_unknown_ids_and_sources_and_the_csrf_token(
    signed: tuple[httpx.Client, str],
) -> None:
    client, csrf = signed
    missing = client.get("/console/playground", params={"rejected": "999999"})
    assert missing.status_code == 404 and "No such rejected request" in missing.text
    gone = client.post(
        "/console/playground/result", data={"source": "nope"}, headers={"X-CSRF-Token": csrf}
    )
    assert gone.status_code == 404
    refused = client.post("/console/playground/result", data={"source": "acme"})
    assert refused.status_code == 403


def test_the_page_script_is_a_file_of_the_package(signed: tuple[httpx.Client, str]) -> None:
    """CSP allows scripts from the relay only: the page's script is a file, none inline, and
    the form the script posts carries the fragment's address and the CSRF token."""
    client, _csrf = signed
    page = client.get("/console/playground", params={"source": "acme"}).text
    assert '<script src="/console/static/playground.js' in page
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert 'data-result-url="/console/playground/result"' in page
    script = client.get("/console/static/playground.js")
    assert script.status_code == 200 and "x-csrf-token" in script.text


def test_the_recent_rejected_requests_are_listed_newest_first(
    signed: tuple[httpx.Client, str],
) -> None:
    client, _csrf = signed
    for n in range(7):
        body = {**HOOK_BODY, "dial_id": f"pg-{n}"}
        hook = client.post("/hooks/acme", json=body, headers={"X-Relay-Token": INLINE_SECRET})
        assert hook.status_code == 422
    page = client.get("/console/playground", params={"source": "acme"}).text
    listed = re.findall(r'<li data-rejected-id="([^"]+)"', page)
    assert len(listed) == 5
    assert [int(i) for i in listed] == sorted((int(i) for i in listed), reverse=True)
    newest = listed[0]
    loaded = client.get("/console/playground", params={"rejected": newest}).text
    assert "pg-6" in loaded.split('id="pg-rejected-body"', 1)[1]
    assert (
        client.get("/console/playground", params={"source": "envsrc"}).text.count(
            "data-rejected-id"
        )
        == 0
    )


BOOM = """
from relay.sdk import MappingResult


class Boom:
    def map(self, request, context):
        if isinstance(request.data, dict) and "boom" in request.data:
            raise KeyError("boom")
        fields = {"prospect_phone": "5125550187", "ani": "5125550100",
                  "disposition_name": "Sale", "datetime": "2026-04-10T14:32:15Z"}
        return MappingResult(fields=fields)


def mapping(options):
    return Boom()
"""


def test_a_mapping_that_raises_is_said_never_a_500(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A custom mapping (``RELAY_MAPPINGS_DIR``) raising on a request: the page says so, as
    the hook would reject it; the same source on another request runs."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "boom.py").write_text(BOOM, encoding="utf-8")
    path = tmp_path / "boom-sources.yaml"
    path.write_text("sources:\n  b:\n    mapping: boom\n    auth: {type: none}\n", "utf-8")
    settings = make_settings(sources_file=path, admin_token=ADMIN_TOKEN, mappings_dir=mappings)
    relay = RelayThread(settings).start()
    try:
        with httpx.Client(base_url=relay.url) as client:
            sign_in(client)
            csrf = csrf_of(client.get("/console/playground").text)
            form = {"source": "b", "body": '{"boom": 1}', "content_type": "application/json"}
            for url in ("/console/playground", "/console/playground/result"):
                answer = client.post(url, data={**form, "csrf": csrf})
                assert answer.status_code == 200
                assert 'data-outcome="rejected"' in answer.text
                assert "mapping &#39;boom&#39; failed: KeyError" in answer.text
            fine = client.post(
                "/console/playground/result",
                data={**form, "body": "{}", "csrf": csrf},
            )
            assert 'data-outcome="ok"' in fine.text
            assert "******0187" in fine.text
    finally:
        relay.stop()
