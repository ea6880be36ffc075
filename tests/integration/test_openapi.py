"""The OpenAPI document at /openapi.json, and schemathesis fuzzing a real relay with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from relay import __version__
from relay.core.dial import DIAL_FIELDS
from tests.conftest import dial_body
from tests.support import scrape
from tests.support.relay_server import RelayThread

SOURCES = """
sources:
  crm:
    auth: {type: header, header: X-Relay-Token, secret: crm-hook-secret}
  five9:
    auth: {type: query, param: token, secret: five9-query-secret}
  open: {auth: {type: none}}
"""
CREDENTIALS: dict[str, dict[str, dict[str, str]]] = {
    "crm": {"headers": {"X-Relay-Token": "crm-hook-secret"}},
    "five9": {"params": {"token": "five9-query-secret"}},
    "open": {},
    "nope": {},
}
PINNED = Path(__file__).parents[1] / "fixtures" / "openapi.json"


def test_openapi_documents_intake_and_preview(start_relay: Callable[..., RelayThread]) -> None:
    """/openapi.json is OpenAPI 3.1 with the hook, the preview and the Dial's exact fields."""
    relay = start_relay(SOURCES)
    r = httpx.get(f"{relay.url}/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]["/hooks/{source}"]) == {"parameters", "post", "get"}
    preview = doc["paths"]["/preview/{source}"]["post"]
    assert preview["security"] == doc["paths"]["/hooks/{source}"]["post"]["security"]
    ok = preview["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert doc["components"]["schemas"][ok.rsplit("/", 1)[1]]["required"] == ["dial", "warnings"]
    dial = doc["components"]["schemas"]["Dial"]
    assert tuple(dial["properties"]) == DIAL_FIELDS
    assert "429" in doc["paths"]["/hooks/{source}"]["post"]["responses"]
    for secret in ("crm-hook-secret", "five9-query-secret", "crm", "five9"):
        assert secret not in r.text  # the same document for every deployment


def test_openapi_document_is_pinned(start_relay: Callable[..., RelayThread]) -> None:
    """The document served is exactly the pinned one (key order included), but for the
    relay's version; security schemes and answers change only on purpose."""
    relay = start_relay(SOURCES)
    doc = httpx.get(f"{relay.url}/openapi.json").json()
    assert doc["info"]["version"] == __version__
    doc["info"]["version"] = "<version>"
    assert json.dumps(doc, indent=2, ensure_ascii=False) + "\n" == PINNED.read_text()


def test_schemathesis_finds_no_server_error(start_relay: Callable[..., RelayThread]) -> None:
    """Schemathesis cases built from /openapi.json get documented answers, never a 5xx."""
    relay = start_relay(SOURCES, max_body_bytes=16 * 1024)
    schema = schemathesis.openapi.from_url(f"{relay.url}/openapi.json")
    served = {route.path for route in relay.app.routes}  # type: ignore[attr-defined]
    operations = [
        schema[path][method]
        for path, methods in (
            ("/hooks/{source}", ("POST", "GET")),
            ("/preview/{source}", ("POST",)),
        )
        if path in served
        for method in methods
    ]
    cases = st.one_of(
        *(op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode)
    )
    before = scrape.value(relay.url, "relay_webhooks_total")
    sent_to_hooks = 0

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases, source=st.sampled_from(sorted(CREDENTIALS)), authenticated=st.booleans())
    def call(case: Any, source: str, authenticated: bool) -> None:
        nonlocal sent_to_hooks
        case.path_parameters = {**(case.path_parameters or {}), "source": source}
        extra = CREDENTIALS[source] if authenticated else {}
        response = case.call(base_url=relay.url, timeout=10, **extra)
        if case.path.startswith("/hooks/"):
            sent_to_hooks += 1
        assert response.status_code < 500, response.text
        case.validate_response(response, excluded_checks=_NOT_FOR_WEBHOOKS)

    call()
    assert scrape.value(relay.url, "relay_webhooks_total") - before == sent_to_hooks
    after = httpx.post(f"{relay.url}/hooks/open", json=dial_body(dial_id="after-schemathesis"))
    assert after.status_code == 202


def _not_for_webhooks() -> list[Any]:
    """Checks that assume a CRUD API: a webhook may refuse well-formed data (401, 422)."""
    from schemathesis import checks as c

    names = ("positive_data_acceptance", "ignored_auth", "missing_required_header")
    return [getattr(c, n) for n in names if hasattr(c, n)]


_NOT_FOR_WEBHOOKS = _not_for_webhooks()
