"""Aircall end to end, on both queue backends: the sources block docs/vendors/aircall.md
documents, a real relay, and Aircall's real deliveries (tests/fixtures/vendors/aircall/) sent
as Aircall sends them, with the webhook's token in the JSON body.

A wrong or missing token is a 401 counted in ``relay_auth_failures_total``; every event but
``call.ended`` is ``200 ignored`` and stores nothing; each call reaches outboundIQ exactly once,
as the Dial the corpus expects; a ``call.ended`` that cannot be mapped is answered 200 and kept
without its token, and replays without it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from relay.cli.main import main
from relay.config.settings import Settings
from tests.mappings.golden import case, load
from tests.support import scrape
from tests.support.cli import run_relay
from tests.support.doc_examples import DOCS, blocks
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

TOKEN = "58ffd2bc5f3113f7bebf210a49299a1b"  # the shape Aircall issues: 32 hex characters
PAGE = DOCS / "vendors" / "aircall.md"
ENDED = [case("aircall/call_ended_outbound_answered_international"),
         case("aircall/call_ended_inbound_missed_voicemail")]  # fmt: skip
NOT_ENDED = [c for c in load("aircall") if c.ignored]


def documented_sources() -> str:
    """The page's ``sources=aircall`` block, as an operator would paste it."""
    [block] = [b for b in blocks(PAGE) if b.spec.get("sources") == "aircall"]
    return block.body


def as_aircall(body: dict[str, Any], token: str | None = TOKEN) -> bytes:
    """The body as Aircall posts it: the envelope with the webhook's token (the corpus keeps
    requests without their credential)."""
    out: dict[str, Any] = {}
    for key, value in body.items():  # Aircall's order: resource, event, timestamp, token, data
        if key == "data" and token is not None:
            out["token"] = token
        out[key] = value
    return json.dumps(out).encode()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def aircall_relay(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
) -> Iterator[RelayThread]:
    """A relay serving the documented block (the token from the environment, as documented),
    on each queue backend; the `relay` CLI pointed at the same queue and sources."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(documented_sources())
    monkeypatch.setenv("AIRCALL_WEBHOOK_TOKEN", TOKEN)
    with unique_prefix(tmp_path) as prefix:
        backend: dict[str, Any] = {}
        if request.param == "redis":
            backend = {"queue_url": REDIS_URL, "redis_key_prefix": prefix}
            monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", prefix)
        settings = make_settings(sources_file=sources, **backend)
        monkeypatch.setenv("RELAY_QUEUE_URL", settings.queue_url)
        monkeypatch.setenv("RELAY_SOURCES_FILE", str(sources))
        monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", "oiq-test-key-0001")
        relay = RelayThread(settings).start()
        try:
            yield relay
        finally:
            relay.stop()


def post(relay: RelayThread, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/hooks/aircall",
        content=body,
        headers={"Content-Type": "application/json", "User-Agent": "Aircall-Webhook"},
        timeout=10,
    )


def test_aircall_deliveries_as_documented(
    aircall_relay: RelayThread, fake: FakeOutboundIQ, capsys: pytest.CaptureFixture[str]
) -> None:
    relay = aircall_relay
    first = ENDED[0].request["body"]

    # A wrong, a missing, and a misplaced token: 401, each counted, nothing stored.
    for body in (
        as_aircall(first, token="0" * 32),
        as_aircall(first, token=None),
        as_aircall({**first, "data": {**first["data"], "token": TOKEN}}, token=None),
        as_aircall(first, token=TOKEN.upper()),
    ):
        answer = post(relay, body)
        assert (answer.status_code, answer.json()) == (
            401,
            {"status": "error", "error": "unauthorized"},
        )
    assert scrape.value(relay.url, "relay_auth_failures_total", source="aircall") == 4

    # Every other event Aircall sends (the corpus's real ones): 200 ignored, nothing stored.
    for other in NOT_ENDED:
        answer = post(relay, as_aircall(other.request["body"]))
        assert answer.status_code == 200, (other.id, answer.text)
        assert answer.json()["status"] == "ignored", other.id

    # The two real call.ended, each delivered twice (Aircall delivers at least once).
    answers = [post(relay, as_aircall(c.request["body"])).status_code for c in ENDED * 2]
    assert answers == [202, 202, 200, 200]

    got = fake.wait_accepted(2, timeout=20)
    received = sorted((r.json() for r in got), key=lambda d: d["dial_id"])
    assert received == sorted((c.expected for c in ENDED), key=lambda d: d["dial_id"])
    assert all(TOKEN.encode() not in r.body for r in got)

    # A call.ended from a withheld number: answered 200 (Aircall disables a webhook after
    # non-2xx answers), kept without its token.
    anonymous = case("aircall/derived_anonymous_caller_kept_with_200").request["body"]
    answer = post(relay, as_aircall(anonymous))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "rejected_kept"
    assert [e["field"] for e in answer.json()["errors"]] == ["prospect_phone"]
    rejected_id = answer.json()["rejected_id"]

    capsys.readouterr()
    assert main(["rejected", "list", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in kept] == [rejected_id]  # the ignored events were never stored
    assert main(["rejected", "show", rejected_id, "--json"]) == 0
    shown = capsys.readouterr().out
    assert TOKEN not in shown
    stored = json.loads(json.loads(shown)["body"])
    assert stored == anonymous  # the delivery, byte for byte the same JSON, minus the token

    # Replay needs no token: after the operator gives withheld callers a number, it maps.
    assert main(["rejected", "replay", "--all"]) == 1  # still rejected as the source is
    sources = Path(relay.settings.sources_file or "")
    config = yaml.safe_load(sources.read_text())
    config["sources"]["aircall"]["defaults"]["prospect_phone"] = "+44 20 7946 0000"
    sources.write_text(yaml.safe_dump(config))
    capsys.readouterr()
    assert main(["rejected", "replay", "--all"]) == 0
    assert "queued 1" in capsys.readouterr().out
    third = fake.wait_accepted(3, timeout=20)
    [replayed] = [r.json() for r in third if r.json()["dial_id"] == "780836755"]
    assert (replayed["prospect_phone"], replayed["ani"]) == ("442079460000", "43720880079")
    assert len(fake.accepted()) == 3


def test_relay_preview_of_a_captured_delivery(tmp_path: Path) -> None:
    """``relay preview aircall FILE`` on a delivery as captured (token included): the Dial the
    corpus expects, and the token nowhere in the output, not even as an unused key."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(documented_sources())
    captured = tmp_path / "call-ended.json"
    captured.write_bytes(as_aircall(ENDED[1].request["body"]))
    done = run_relay(
        "preview", "aircall", str(captured), "--sources-file", str(sources), "--json",
        env={"AIRCALL_WEBHOOK_TOKEN": TOKEN},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "ok" and doc["dial"] == ENDED[1].expected
    assert "token" not in doc["unused_keys"]
