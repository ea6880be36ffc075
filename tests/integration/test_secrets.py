"""Secrets never leave: not in logs, error bodies, `relay check`, /metrics, tracebacks or repr().

Phone numbers in logs are masked, and raw payloads are not logged at INFO.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from pydantic import SecretStr

from relay.cli import main
from relay.config.settings import Settings
from relay.core.sources import parse_sources
from relay.obs.logs import configure_logging
from tests.conftest import dial_body
from tests.log_guard import install, unmasked_test_phones
from tests.support.fake_outboundiq import FakeOutboundIQ, Reply
from tests.support.relay_server import RelayThread

SECRETS = {
    "header": "hdr-secret-0001",
    "query": "qry-secret-0002",
    "basic": "bsc-secret-0003",
    "hmac": "hmc-secret-0004",
    "key": "oiq-source-key-0005",
}
SOURCES = f"""
sources:
  hdr: {{auth: {{type: header, secret: {SECRETS["header"]}}}, api_key: {SECRETS["key"]}}}
  qry: {{auth: {{type: query, param: key, secret: {SECRETS["query"]}}}}}
  bsc: {{auth: {{type: basic, username: gen, password: {SECRETS["basic"]}}}}}
  hmc: {{auth: {{type: hmac, secrets: [{SECRETS["hmac"]}]}}}}
"""


def leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Production logging (INFO, JSON) into a buffer for the test; the suite's guard after."""
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    yield buffer
    install()


def test_reprs_hide_secrets(make_settings: Callable[..., Settings]) -> None:
    """repr() of settings, sources, their configs and the running state shows no secret."""
    settings = make_settings(outboundiq_api_key=SECRETS["key"])
    sources = parse_sources(SOURCES, env={}, default_api_key=SecretStr(SECRETS["key"]))
    texts = [repr(settings), str(settings), repr(settings.redacted()), repr(sources)]
    texts += [repr(s.config) for s in sources.values()]
    texts += [str(s.config.model_dump()) for s in sources.values()]
    assert not leaks("\n".join(texts))


def test_error_bodies_and_metrics_hide_secrets(start_relay: Callable[..., RelayThread]) -> None:
    """Refusals, rejections and /metrics never echo a secret, presented or configured."""
    relay = start_relay(SOURCES)
    bodies = [
        httpx.post(f"{relay.url}/hooks/hdr", json={}, headers={"X-Relay-Token": "x"}).text,
        httpx.get(f"{relay.url}/hooks/qry", params={"key": SECRETS["query"], "ani": "bad"}).text,
        httpx.get(f"{relay.url}/hooks/qry", params={"key": SECRETS["query"][:-1]}).text,
        httpx.post(f"{relay.url}/hooks/bsc", auth=("gen", SECRETS["basic"] + "x")).text,
        httpx.post(f"{relay.url}/hooks/hmc", content=b"{}", headers={"X-Signature": "00"}).text,
        httpx.get(f"{relay.url}/metrics").text,
        httpx.get(f"{relay.url}/openapi.json").text,
    ]
    assert '"rejected"' in bodies[1]  # the query secret was accepted, the body rejected
    assert not leaks("\n".join(bodies))


def test_relay_check_hides_secrets_even_in_yaml_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`relay check` prints no secret, whether the file is valid or broken around a secret."""
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", SECRETS["key"])
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES)
    assert main(["check", str(path)]) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        f"sources:\n  hdr: {{auth: {{type: header, secret: {SECRETS['header']}}}}}}}\n"
    )
    assert main(["check", str(broken)]) == 2
    out = capsys.readouterr()
    assert "not valid YAML" in out.err and "line" in out.err
    assert not leaks(out.out + out.err)


def _crash_with_a_secret_in_locals() -> None:
    secret_value = SECRETS["hmac"]  # noqa: F841 - a local a traceback could show
    raise RuntimeError("delivery failed")


@pytest.mark.parametrize("json", [True, False])
def test_tracebacks_never_show_locals(json: bool, log_output: io.StringIO) -> None:
    """Logged exceptions (structlog and stdlib, JSON and console) carry no local variables."""
    configure_logging("INFO", json=json, stream=log_output)
    try:
        _crash_with_a_secret_in_locals()
    except RuntimeError:
        structlog.get_logger("relay.test").exception("delivery_crashed")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    text = log_output.getvalue()
    assert text.count("RuntimeError: delivery failed") == 2  # both tracebacks were rendered
    assert not leaks(text)


def test_phones_masked_in_keys_and_free_text(log_output: io.StringIO) -> None:
    """Phone numbers are masked under phone keys and inside errors or upstream answers."""
    log = structlog.get_logger("relay.test")
    log.warning("x", ani="+1 (512) 555-0100", error="outboundIQ: prospect_phone 5125550187 bad")
    log.error("y", response='{"detail": "512-555-0187 is not dialable"}')
    logging.getLogger("uvicorn.error").warning("client sent +15125550187")
    text = log_output.getvalue()
    assert unmasked_test_phones(text) == []
    assert text.count("0187") == 3 and "0100" in text


def test_dead_letter_log_masks_phones_in_outboundiq_answer(
    start_relay: Callable[..., RelayThread], fake: FakeOutboundIQ, log_output: io.StringIO
) -> None:
    """When outboundIQ's refusal quotes a phone number, the logged answer has it masked."""
    fake.default = Reply(422, body='{"error": "prospect_phone 5125550187 is invalid"}')
    relay = start_relay()
    r = httpx.post(
        f"{relay.url}/hooks/crm", json=dial_body(), headers={"X-Relay-Token": "crm-hook-secret"}
    )
    assert r.status_code == 202
    dead = lambda: relay.call(relay.runtime.queue.stats(now=time.time())).dead  # noqa: E731
    assert fake.wait_for(lambda: dead() >= 1)
    relay.stop()
    text = log_output.getvalue()
    assert "dial_dead_lettered" in text and "******0187" in text
    assert unmasked_test_phones(text) == []


def test_raw_payload_not_logged_at_info(
    start_relay: Callable[..., RelayThread], log_output: io.StringIO
) -> None:
    """At INFO, a webhook's content (names, phones, campaign) never reaches the logs."""
    relay = start_relay()
    body = dial_body(agent_name="Zelda Quuxington", campaign_name="Secret Campaign Q9")
    headers = {"X-Relay-Token": "crm-hook-secret"}
    assert httpx.post(f"{relay.url}/hooks/crm", json=body, headers=headers).status_code == 202
    bad = dial_body(prospect_phone="not-a-phone", agent_name="Zelda Quuxington")
    assert httpx.post(f"{relay.url}/hooks/crm", json=bad, headers=headers).status_code == 422
    relay.stop()
    text = log_output.getvalue()
    assert "webhook_received" in text and "webhook_rejected" in text
    for raw in ("Zelda", "Secret Campaign", "Sales Tier", "78701", "not-a-phone"):
        assert raw not in text


def test_queue_url_password_is_hidden() -> None:
    """A Redis password inside RELAY_QUEUE_URL shows in neither repr nor redacted()."""
    from relay.config.settings import Settings

    settings = Settings(queue_url="redis://:hunter2-redis-pass@127.0.0.1:6379/0")
    assert "hunter2-redis-pass" not in repr(settings)
    assert "hunter2-redis-pass" not in repr(settings.redacted())
