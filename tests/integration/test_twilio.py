"""Twilio status callbacks through a real relay, configured as docs/vendors/twilio.md says.

Twilio's real requests (the corpus), signed as Twilio signs them (over the public URL the
source names), are accepted; a wrong signature is a counted 401; progress callbacks are
answered ``200 ignored`` and stored nowhere; each call becomes exactly one dial at outboundIQ,
on the SQLite and the Redis queue alike. Without ``public_url``, a trusted proxy's forwarded
host and protocol decide, and nobody else's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from pydantic import SecretStr

from relay.config.auth_twilio import twilio_signature
from relay.config.settings import Settings
from relay.core.sources import parse_sources
from tests.conftest import DEFAULT_KEY
from tests.mappings.golden import case
from tests.support import scrape
from tests.support.cli import run_relay
from tests.support.doc_examples import blocks
from tests.support.fake_outboundiq import FakeOutboundIQ
from tests.support.redis import REDIS_URL, unique_prefix
from tests.support.relay_server import RelayThread

PAGE = Path(__file__).resolve().parents[2] / "docs" / "vendors" / "twilio.md"
TOKEN = "twilio-auth-token-0001"
PUBLIC = "https://relay.example.com/hooks/twilio"
FORM = "application/x-www-form-urlencoded"
MACHINE = case("twilio/completed_machine_detection_voicemail")  # real; AnsweredBy machine
BRAZIL = case("twilio/completed_international_brazil_human")  # real; raw form body
PROGRESS = [case("twilio/initiated_child_leg_ignored"), case("twilio/in_progress_answered_ignored")]


def documented_sources() -> str:
    [block] = [b for b in blocks(PAGE) if b.spec.get("sources") == "twilio"]
    return block.body


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def queue_mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        yield {"queue_url": f"sqlite:///{tmp_path}/twilio.db"}
        return
    with unique_prefix(tmp_path) as prefix:
        yield {"queue_url": REDIS_URL, "redis_key_prefix": prefix}


@contextmanager
def start(
    fake: FakeOutboundIQ, text: str, tmp_path: Path, **settings: Any
) -> Iterator[RelayThread]:
    values: dict[str, Any] = {
        "port": 0,
        "outboundiq_url": fake.url,
        "outboundiq_api_key": DEFAULT_KEY,
        "queue_url": f"sqlite:///{tmp_path}/twilio.db",
        "retry_base_seconds": 0.05,
        "retry_cap_seconds": 0.5,
        "forward_timeout_seconds": 2.0,
        "shutdown_grace_seconds": 2.0,
        **settings,
    }
    sources = parse_sources(
        text, env={"TWILIO_AUTH_TOKEN": TOKEN}, default_api_key=SecretStr(DEFAULT_KEY)
    )
    relay = RelayThread(Settings(**values), sources=sources).start()
    try:
        yield relay
    finally:
        relay.stop()


def post(
    relay: RelayThread,
    query: str,
    body: str,
    *,
    signed_url: str | None = None,
    token: str = TOKEN,
    route: str = "hooks",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a form as Twilio does: signed over the URL Twilio was given and the parameters."""
    url = signed_url or PUBLIC
    signed = f"{url}?{query}" if query else url
    params = parse_qsl(body, keep_blank_values=True)
    all_headers = {
        "Content-Type": FORM,
        "X-Twilio-Signature": twilio_signature(token, signed, params),
        **(headers or {}),
    }
    target = f"{relay.url}/{route}/twilio" + (f"?{query}" if query else "")
    return httpx.post(target, content=body.encode(), headers=all_headers, timeout=10)


def with_status(body: str, status: str) -> str:
    """The same callback with another CallStatus (a progress event of the same call)."""
    pairs = parse_qsl(body, keep_blank_values=True)
    return urlencode([(k, status if k == "CallStatus" else v) for k, v in pairs])


def outcomes(relay: RelayThread) -> dict[str, float]:
    counted = scrape.samples(relay.url, "relay_webhooks_total")
    return {labels["outcome"]: n for labels, n in counted if labels["source"] == "twilio"}


def settled(relay: RelayThread) -> bool:
    stats = relay.call(relay.runtime.queue.stats(now=time.time()))
    return stats.ready + stats.delayed + stats.leased == 0


def test_documented_source_one_dial_per_call(
    fake: FakeOutboundIQ, tmp_path: Path, queue_mode: dict[str, Any]
) -> None:
    """Progress callbacks of a call are ignored, its final callback (sent twice) is one dial,
    real requests of other calls are ignored, and a wrong signature is a counted 401."""
    with start(fake, documented_sources(), tmp_path, **queue_mode) as relay:
        query, body = MACHINE.request["query"], MACHINE.request["body"]
        for status in ("initiated", "ringing", "in-progress"):
            answer = post(relay, query, with_status(body, status))
            assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
        for progress in PROGRESS:
            answer = post(relay, progress.request["query"], progress.request["body"])
            assert (answer.status_code, answer.json()["status"]) == (200, "ignored")
        assert settled(relay) and fake.accepted() == []  # nothing stored, nothing sent

        wrong = post(relay, query, body, token="not-the-auth-token")
        assert (wrong.status_code, wrong.json()) == (
            401,
            {"status": "error", "error": "unauthorized"},
        )
        assert scrape.value(relay.url, "relay_auth_failures_total", source="twilio") == 1

        dial_id = MACHINE.expected["dial_id"]  # type: ignore[index]
        first = post(relay, query, body)
        assert (first.status_code, first.json()) == (202, {"status": "queued", "dial_id": dial_id})
        again = post(relay, query, body)  # Twilio delivers it again
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        brazil = post(relay, BRAZIL.request["query"], BRAZIL.request["body"])
        assert brazil.status_code == 202, brazil.text

        received = fake.wait_accepted(2, timeout=30)
        by_id = {r.json()["dial_id"]: r.json() for r in received}
        assert by_id == {dial_id: MACHINE.expected, BRAZIL.expected["dial_id"]: BRAZIL.expected}  # type: ignore[index]
        assert fake.wait_for(lambda: settled(relay), timeout=20)
        assert fake.accepted_counts() == {dial_id: 1, BRAZIL.expected["dial_id"]: 1}  # type: ignore[index]
        assert outcomes(relay) == {"ignored": 5, "unauthorized": 1, "queued": 2, "duplicate": 1}


def test_preview_checks_the_hooks_url(fake: FakeOutboundIQ, tmp_path: Path) -> None:
    """A callback Twilio signed for /hooks/twilio previews unchanged at /preview/twilio."""
    with start(fake, documented_sources(), tmp_path) as relay:
        answer = post(relay, MACHINE.request["query"], MACHINE.request["body"], route="preview")
        assert answer.status_code == 200, answer.text
        assert answer.json()["dial"] == MACHINE.expected
        tampered = httpx.post(
            f"{relay.url}/preview/twilio?campaign_id=TAMPERED",
            content=MACHINE.request["body"].encode(),
            headers={
                "Content-Type": FORM,
                "X-Twilio-Signature": twilio_signature(
                    TOKEN, f"{PUBLIC}?campaign_id=OTHER", parse_qsl(MACHINE.request["body"])
                ),
            },
        )
        assert tampered.status_code == 401
        assert fake.accepted() == []


NO_PUBLIC_URL = """
sources:
  twilio:
    mapping: twilio
    auth: {type: twilio-signature, secret: "${TWILIO_AUTH_TOKEN}"}
"""


def test_forwarded_host_and_proto_only_from_a_trusted_proxy(
    fake: FakeOutboundIQ, tmp_path: Path
) -> None:
    """Without public_url, the URL is rebuilt from a trusted proxy's X-Forwarded-Host/-Proto;
    the same headers from an untrusted peer are not believed."""
    forwarded = {"X-Forwarded-Host": "relay.example.com", "X-Forwarded-Proto": "https"}
    body = with_status(MACHINE.request["body"], "busy")
    with start(fake, NO_PUBLIC_URL, tmp_path) as relay:
        answer = post(relay, "", body, headers=forwarded)
        assert answer.status_code == 401
        own_url = f"{relay.url}/hooks/twilio"  # the URL as the relay sees it is fine too
        assert post(relay, "", body, signed_url=own_url).status_code == 202
    trusted_dir = tmp_path / "trusted"
    trusted_dir.mkdir()
    with start(
        fake,
        NO_PUBLIC_URL,
        trusted_dir,
        queue_url=f"sqlite:///{trusted_dir}/twilio.db",
        trusted_proxies=["127.0.0.1/32"],
    ) as relay:
        other = body.replace(MACHINE.expected["dial_id"], "CAfeedfacefeedfacefeedfacefeedface")  # type: ignore[index]
        answer = post(relay, "", other, headers=forwarded)
        assert answer.status_code == 202, answer.text


def test_relay_preview_reads_a_saved_callback(tmp_path: Path) -> None:
    """`relay preview twilio FILE` on the relay's host: the documented source, a saved Twilio
    callback, the Dial it would queue (numbers masked), nothing queued."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(documented_sources())
    env = {
        "RELAY_SOURCES_FILE": str(sources),
        "RELAY_QUEUE_URL": f"sqlite:///{tmp_path}/twilio.db",
        "RELAY_OUTBOUNDIQ_API_KEY": DEFAULT_KEY,
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    done = run_relay("preview", "twilio", str(BRAZIL.path), env=env)
    assert done.returncode == 0, done.stderr
    assert "twilio: ok" in done.stdout
    assert BRAZIL.expected["dial_id"] in done.stdout  # type: ignore[index]
    assert "551135892112" not in done.stdout  # the prospect's number is masked
    ignored = run_relay("preview", "twilio", str(PROGRESS[0].path), env=env)
    assert "ignored" in ignored.stdout + ignored.stderr
