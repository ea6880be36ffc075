"""`relay preview` as an operator runs it: text or --json, malformed JSON named as such, the
input keys no field used, a GET without a body file; the same answers as /preview."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.test_preview import SOURCES
from tests.support.cli import run_relay
from tests.support.relay_server import RelayThread

CALL = {
    "call_id": "42",
    "ani": "5125550100",
    "dnis": "5125550187",
    "type_name": "Outbound",
    "disposition_name": "Sale",
    "start_timestamp": "20260821160006123",
    "Q1_interested": "yes",
}
CRM = {
    "dial_id": "crm-1",
    "ani": "5125550100",
    "prospect_phone": "5125550187",
    "datetime": "2026-08-03 09:00:06",
    "disposition_name": "Sale",
    "crm": {"lead_id": 7},
    "note": "called back",
}


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES)
    return path


def test_get_preview_needs_no_body_file(sources_file: Path) -> None:
    """A connector URL's query is the whole request: no FILE, GET by default; the text names
    the unused parameter, masks phones and never shows the secret."""
    query = urlencode({"token": "f9-hook-secret", **CALL})
    done = run_relay("preview", "f9", "--query", query, "--sources-file", str(sources_file))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("f9: ok: the hook would queue this dial (nothing was queued)\n")
    assert "dial_id" in out and "42" in out
    assert "******0187" in out and "5125550187" not in out
    assert "unused input keys: Q1_interested\n" in out
    assert "f9-hook-secret" not in out and "token" not in out
    as_json = run_relay(
        "preview", "f9", "--query", query, "--sources-file", str(sources_file), "--json"
    )
    doc = json.loads(as_json.stdout)
    assert doc["status"] == "ok" and doc["dial"]["prospect_phone"] == "5125550187"
    assert doc["unused_keys"] == ["Q1_interested"]


def test_malformed_json_is_reported_as_such(sources_file: Path, tmp_path: Path) -> None:
    """A body that looks like JSON but does not parse is malformed JSON at a line and column
    (exit 1, as the hook's 422) — not a form with one odd key — with or without
    --content-type; a real form body is still a form."""
    body = tmp_path / "body.json"
    body.write_text('{\n  "ani": "5125550100",\n  "dial_id": "x",\n}\n')
    expected = "malformed JSON at line 3, column 17: trailing comma is not allowed"
    done = run_relay("preview", "crm", str(body), "--sources-file", str(sources_file))
    assert done.returncode == 1
    assert f"errors:\n  body: {expected}\n" in done.stdout
    claimed = run_relay("preview", "crm", str(body), "--sources-file", str(sources_file),
                        "--content-type", "application/json", "--json")  # fmt: skip
    assert claimed.returncode == 1
    assert json.loads(claimed.stdout)["errors"] == [{"field": "body", "problem": expected}]
    request_file = tmp_path / "request.json"
    request_file.write_text('{"request": {"content_type": "application/x-www-form-urlencoded"')
    broken = run_relay("preview", "crm", str(request_file), "--sources-file", str(sources_file))
    assert "body: malformed JSON at line 1, column" in broken.stdout
    form = tmp_path / "body.txt"
    form.write_text(urlencode({k: v for k, v in CRM.items() if k != "crm"}))
    assert run_relay("preview", "crm", str(form), "--sources-file", str(sources_file),
                     "--json").returncode == 0  # fmt: skip


def test_unused_keys_in_text_and_json_and_the_same_from_the_endpoint(
    sources_file: Path, tmp_path: Path, start_relay: Callable[..., RelayThread]
) -> None:
    """The CLI's JSON is the document POST /preview answers (unused keys included), for a
    request that maps and for one that is rejected."""
    relay = start_relay(SOURCES)
    headers = {"X-Relay-Token": "crm-hook-secret"}
    for body in (CRM, {**CRM, "prospect_phone": "nope"}):
        raw = tmp_path / "body.json"
        raw.write_text(json.dumps(body))
        cli = run_relay("preview", "crm", str(raw), "--sources-file", str(sources_file), "--json")
        answer = httpx.post(f"{relay.url}/preview/crm", json=body, headers=headers)
        assert json.loads(cli.stdout) == answer.json()
        assert answer.json()["unused_keys"] == ["crm", "note"]
        assert cli.returncode == (0 if answer.status_code == 200 else 1)
        text = run_relay("preview", "crm", str(raw), "--sources-file", str(sources_file))
        assert "unused input keys: crm, note\n" in text.stdout
    get = httpx.get(f"{relay.url}/preview/f9", params={"token": "f9-hook-secret", **CALL})
    assert get.status_code == 200 and get.json()["unused_keys"] == ["Q1_interested"]


def test_a_missing_body_file_is_a_usage_error(sources_file: Path, tmp_path: Path) -> None:
    """A FILE that is not there is named (exit 2), not a traceback."""
    done = run_relay("preview", "crm", str(tmp_path / "nope.json"), "--sources-file",
                     str(sources_file))  # fmt: skip
    assert done.returncode == 2
    assert "nope.json" in done.stderr and "Traceback" not in done.stderr
