"""Dialpad end to end, on both queue backends: the sources file of docs/vendors/dialpad.md
accepts Dialpad's real call events signed as Dialpad signs them (the body is an HS256 JWT,
whatever the Content-Type), refuses a wrong signature (401, counted), ignores progress states
without storing them, delivers exactly one dial per call, and a rejected event (a blocked
caller ID) is kept as its JWT and replays with the `relay` command once the source is fixed."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.config import jwt
from relay.config.settings import Settings
from tests.conftest import DEFAULT_KEY
from tests.mappings.golden import case
from tests.support.doc_examples import DOCS, blocks
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread
from tests.support.scrape import value

ROOT = Path(__file__).resolve().parents[2]
RELAY = ROOT / ".venv" / "bin" / "relay"
SECRET = "dialpad-webhook-secret-0001"
MISSED = case("dialpad/inbound_missed_office_mainline").request["body"]
RINGING = case("dialpad/ringing_inbound_user_ignored").request["body"]
BLOCKED = case("dialpad/derived_outbound_blocked_hangup_rejected").request["body"]
ANSWERED = case("dialpad/derived_inbound_answered_routed_via_office").request["body"]


def documented_sources() -> str:
    """The page's first sources block, as an operator copies it."""
    [first, *_] = [b.body for b in blocks(DOCS / "vendors" / "dialpad.md") if b.spec.get("sources")]
    return first


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The RELAY_* queue settings of each backend (Redis: a prefix of this test's own)."""
    if request.param == "sqlite":
        yield {"RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db"}
        return
    with unique_prefix(tmp_path) as prefix:
        yield {"RELAY_QUEUE_URL": REDIS_URL, "RELAY_REDIS_KEY_PREFIX": prefix}


@pytest.fixture
def relay_env(
    tmp_path: Path,
    fake: FakeOutboundIQ,
    queue_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    sources = tmp_path / "sources.yaml"
    sources.write_text(documented_sources())
    env = {
        "RELAY_SOURCES_FILE": str(sources),
        "RELAY_OUTBOUNDIQ_URL": fake.url,
        "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
        "RELAY_RETRY_BASE_SECONDS": "0.05",
        "RELAY_RETRY_CAP_SECONDS": "0.5",
        "DIALPAD_WEBHOOK_SECRET": SECRET,
        **queue_env,
    }
    for name, val in env.items():
        monkeypatch.setenv(name, val)
    return env


@pytest.fixture
def relay(relay_env: dict[str, str]) -> Iterator[RelayThread]:
    started = RelayThread(Settings(port=0, shutdown_grace_seconds=2.0)).start()
    try:
        yield started
    finally:
        started.stop()


def post(
    relay: RelayThread, body: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(f"{relay.url}/hooks/dialpad", content=body, headers=headers, timeout=10)


def signed(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> bytes:
    return jwt.encode(claims, secret.encode(), alg)


def run_relay(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real `relay` command, with ``env`` as its only RELAY_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    return subprocess.run(
        [str(RELAY), *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stored(relay: RelayThread) -> int:
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    return int(stats.ready + stats.delayed + stats.leased)


def rejected_ids(relay: RelayThread) -> list[str]:
    return [r.id for r in relay.call(relay.runtime.queue.list_rejected(source=None, limit=100))]


def test_dialpad_events_become_one_dial_per_call(relay: RelayThread, fake: FakeOutboundIQ) -> None:
    """Signed hang-ups whatever the Content-Type, retries, a progress state, bad signatures."""
    failures = value(relay.url, "relay_auth_failures_total", source="dialpad")
    for forged in (
        signed(MISSED, secret="not-the-secret"),
        json.dumps(MISSED).encode(),  # a webhook without a secret sends plain JSON
        signed(MISSED, alg="HS512"),  # not in the source's algorithm allow-list
    ):
        answer = post(relay, forged)
        assert answer.status_code == 401, answer.text
        assert "signature" not in answer.text.lower()
    after = value(relay.url, "relay_auth_failures_total", source="dialpad")
    assert after == failures + 3

    ringing = post(relay, signed(RINGING), "application/jwt")
    assert (ringing.status_code, ringing.json()["status"]) == (200, "ignored")
    assert stored(relay) == 0 and rejected_ids(relay) == []

    first = post(relay, signed(MISSED), "text/plain")
    assert (first.status_code, first.json()["dial_id"]) == (202, "6421977457180672")
    retry = post(relay, signed(MISSED), None)  # Dialpad's retry, no Content-Type at all
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate")
    assert post(relay, signed(ANSWERED)).status_code == 202

    assert fake.wait_for(lambda: len(fake.accepted()) >= 2 and stored(relay) == 0, timeout=20)
    dials = {r.json()["dial_id"]: r.json() for r in fake.accepted()}
    assert fake.accepted_counts() == {"6421977457180672": 1, "1002": 1}
    missed = dials["6421977457180672"]
    assert (missed["ani"], missed["prospect_phone"]) == ("5106666687", "5102609745")
    assert (missed["disposition_name"], missed["call_direction"]) == ("Missed", "Inbound")
    assert missed["datetime"] == "2024-11-14 22:40:39"
    assert dials["1002"]["agent_name"] == "テÉst Bot"


def test_expired_token_refused_and_claims_within_leeway_accepted(
    relay: RelayThread, fake: FakeOutboundIQ
) -> None:
    """``exp`` is honoured when Dialpad (or a proxy) sets one: past the leeway, 401."""
    now = time.time()
    old = {**copy.deepcopy(ANSWERED), "call_id": "1003", "exp": int(now) - 3600}
    assert post(relay, signed(old)).status_code == 401
    fresh = {**copy.deepcopy(ANSWERED), "call_id": "1004", "exp": int(now) - 5}
    assert post(relay, signed(fresh)).status_code == 202
    assert fake.wait_for(lambda: "1004" in fake.accepted_ids(), timeout=20)
    assert "1003" not in fake.accepted_ids()


def test_rejected_event_replays_with_the_relay_command(
    relay: RelayThread, relay_env: dict[str, str], fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """A hang-up with a withheld caller ID (no ani) is kept as sent; with a default ani in
    the source, `relay rejected replay` (the real command) delivers it once."""
    answer = post(relay, signed(BLOCKED), "text/plain")
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["ani"]
    [kept] = relay.call(relay.runtime.queue.list_rejected(source="dialpad", limit=10))
    assert kept.body.count(b".") == 2 and not kept.body.startswith(b"{")  # the JWT itself

    sources = Path(relay_env["RELAY_SOURCES_FILE"])
    fixed = sources.read_text().replace(
        "defaults: {lead_source: dialpad}", 'defaults: {lead_source: dialpad, ani: "2085550100"}'
    )
    assert fixed != sources.read_text()
    sources.write_text(fixed)
    done = run_relay(tmp_path, relay_env, "rejected", "replay", "--source", "dialpad")
    assert done.returncode == 0, done.stderr
    assert "queued 1" in done.stdout
    assert fake.wait_for(lambda: "5635304278851584" in fake.accepted_ids(), timeout=20)
    [dial] = [r.json() for r in fake.accepted() if r.json()["dial_id"] == "5635304278851584"]
    assert (dial["ani"], dial["prospect_phone"]) == ("2085550100", "7024993350")
    assert (dial["disposition_name"], dial["agent_name"]) == ("No Answer", "Mike Alhayek")
    assert rejected_ids(relay) == []


def test_relay_preview_reads_a_jwt_or_its_claims(tmp_path: Path) -> None:
    """`relay preview dialpad FILE` (the real command) maps a raw JWT body, whatever type
    the file seems to be, and a corpus request file holding the decoded claims."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(documented_sources())
    token = tmp_path / "event.jwt"
    token.write_bytes(signed(MISSED) + b"\n")
    env = {
        "RELAY_SOURCES_FILE": str(sources),
        "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/queue.db",
        "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
        "DIALPAD_WEBHOOK_SECRET": SECRET,
    }
    claims_file = case("dialpad/inbound_missed_office_mainline").path
    for file in (token, claims_file):
        done = run_relay(tmp_path, env, "preview", "dialpad", str(file), "--json")
        assert done.returncode == 0, (file, done.stdout, done.stderr)
        dial = json.loads(done.stdout)["dial"]
        assert (dial["dial_id"], dial["disposition_name"]) == ("6421977457180672", "Missed")
