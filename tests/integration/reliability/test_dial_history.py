"""`relay dial show` and `relay dial list` against a real relay's queue, SQLite and Redis."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.cli import main
from relay.config.settings import Settings
from tests.conftest import dial_body
from tests.support.cli import run_relay
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.redis import REDIS_URL, drop_prefix, prefix_for
from tests.support.relay_server import RelayThread

CRM = {"X-Relay-Token": "crm-hook-secret"}
OTHER = {"Authorization": "Bearer other-hook-secret"}


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def cli_settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    configure_cli: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Settings]]:
    """Settings for a relay and for the `relay` command on the same queue, of one backend."""

    def factory(**overrides: Any) -> Settings:
        if request.param == "redis":
            prefix = prefix_for(tmp_path)
            monkeypatch.setenv("RELAY_REDIS_KEY_PREFIX", prefix)
            overrides.update(queue_url=REDIS_URL, redis_key_prefix=prefix)
        return configure_cli(**overrides)

    yield factory
    if request.param == "redis":
        drop_prefix(prefix_for(tmp_path))


def shown(dial_id: str, *extra: str) -> tuple[list[dict[str, Any]], str]:
    """`relay dial show DIAL_ID --json` as a subprocess: the timelines, and the output."""
    run = run_relay("dial", "show", dial_id, "--json", *extra)
    assert run.returncode == 0, run.stderr
    timelines: list[dict[str, Any]] = json.loads(run.stdout)
    return timelines, run.stdout


def in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The same command through ``relay.cli.main`` (where a subprocess adds nothing)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def post(relay: RelayThread, dial_id: str, source: str = "crm") -> None:
    headers = CRM if source == "crm" else OTHER
    r = httpx.post(f"{relay.url}/hooks/{source}", json=dial_body(dial_id=dial_id), headers=headers)
    assert r.status_code == 202


def settled(relay: RelayThread, dial_id: str, state: str) -> bool:
    """Whether the relay's queue says ``dial_id``'s history has reached ``state``."""
    records = relay.call(relay.runtime.queue.dial_history(dial_id))
    return bool(records) and records[-1].state == state


def test_a_dial_delivered_after_a_503(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`relay dial show`: received, the 503 with its answer, the 200, delivered; the payload
    as sent, its phones masked; as JSON and as text."""
    fake.script(Reply(503, body='{"error":"try later"}'), Reply(200))
    relay = start_relay(settings=cli_settings())
    post(relay, "hist-1")
    assert fake.wait_for(lambda: settled(relay, "hist-1", "delivered"))

    (timeline,), as_json = shown("hist-1")
    assert (timeline["source"], timeline["dial_id"], timeline["state"]) == (
        "crm",
        "hist-1",
        "delivered",
    )
    events = timeline["events"]
    assert [e["event"] for e in events] == [
        "received",
        "attempt",
        "waiting",
        "attempt",
        "delivered",
    ]
    assert [(e["attempt"], e["status"]) for e in events if e["event"] == "attempt"] == [
        (1, 503),
        (2, 200),
    ]
    assert events[1]["answer"] == '{"error":"try later"}'
    assert events[1]["seconds"] is not None and events[0]["lane"] == "live"
    assert timeline["number"] == "******0187"
    assert timeline["received_at"].endswith("Z") and "T" in timeline["received_at"]  # ISO 8601
    assert timeline["payload"]["prospect_phone"] == "******0187"
    assert timeline["payload"]["ani"] == "******0100"
    assert timeline["payload"]["dial_id"] == "hist-1"

    text = run_relay("dial", "show", "hist-1")
    assert text.returncode == 0, text.stderr
    assert "HTTP 503" in text.stdout and "HTTP 200" in text.stdout
    assert "delivered" in text.stdout and "******0187" in text.stdout
    for out in (text.stdout, as_json):
        assert "5125550187" not in out and "512-555-0187" not in out

    code, out, _err = in_process(capsys, "dial", "list", "--number", "0187", "--json")
    assert code == 0
    assert [(d["dial_id"], d["state"]) for d in json.loads(out)] == [("hist-1", "delivered")]
    assert "payload" not in json.loads(out)[0]
    code, out, _err = in_process(capsys, "dial", "list", "--number", "0100")
    assert code == 0 and "hist-1" not in out


def test_a_dead_letter_then_its_replay(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 400 shows its reason and the dead letter's id; after `relay dlq replay` the same
    timeline goes on: replayed, attempted again, delivered."""
    fake.fail_dial("hist-2", Reply(400, body='{"error":"campaign unknown"}'))
    relay = start_relay(settings=cli_settings())
    post(relay, "hist-2")
    assert fake.wait_for(lambda: settled(relay, "hist-2", "dead"))

    (dead,), _out = shown("hist-2")
    assert dead["state"] == "dead" and dead["dead_letter_id"]
    assert dead["events"][-1] == {
        "event": "dead_lettered",
        "at": dead["events"][-1]["at"],
        "reason": "http_400",
        "status": 400,
    }
    assert dead["events"][-2]["answer"] == '{"error":"campaign unknown"}'

    fake.fail_dial("hist-2", None)
    assert in_process(capsys, "dlq", "replay", dead["dead_letter_id"])[0] == 0
    assert fake.wait_for(lambda: settled(relay, "hist-2", "delivered"))
    (after,), _out = shown("hist-2")
    assert after["id"] == dead["id"]  # one timeline, before and after the replay
    assert [e["event"] for e in after["events"]] == [
        "received",
        "attempt",
        "dead_lettered",
        "replayed",
        "attempt",
        "delivered",
    ]
    assert after["dead_letter_id"] is None and after["payload"]["dial_id"] == "hist-2"


def test_one_dial_id_in_two_sources_needs_source(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two matches are listed and the command asks for --source (exit 2); an unknown dial is
    "no dial" (exit 1)."""
    relay = start_relay(settings=cli_settings())
    post(relay, "twice", "crm")
    post(relay, "twice", "other")
    assert fake.wait_for(lambda: len(relay.call(relay.runtime.queue.dial_history("twice"))) == 2)
    both = run_relay("dial", "show", "twice")
    assert both.returncode == 2 and both.stdout == ""
    assert "--source crm" in both.stderr and "--source other" in both.stderr
    code, out, _err = in_process(capsys, "dial", "show", "twice", "--source", "other", "--json")
    assert code == 0 and [t["source"] for t in json.loads(out)] == ["other"]
    code, out, err = in_process(capsys, "dial", "show", "nope")
    assert (code, out) == (1, "") and "no dial nope" in err


def test_history_off_records_nothing(
    start_relay: Callable[..., RelayThread],
    fake: FakeOutboundIQ,
    cli_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """RELAY_DIAL_HISTORY_SECONDS=0: dials are delivered, and no history is kept."""
    monkeypatch.setenv("RELAY_DIAL_HISTORY_SECONDS", "0")
    relay = start_relay(settings=cli_settings(dial_history_seconds=0))
    post(relay, "quiet")
    assert fake.wait_accepted(1)
    off = run_relay("dial", "show", "quiet")
    assert off.returncode == 1
    assert "no dial quiet" in off.stderr and "RELAY_DIAL_HISTORY_SECONDS=0" in off.stderr
    code, out, _err = in_process(capsys, "dial", "list", "--json")
    assert code == 0 and json.loads(out) == []
