"""Settings: RELAY_OUTBOUNDIQ_URL is checked at start, and in `relay check`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from structlog.testing import capture_logs

from relay.app import create_app
from relay.cli import main
from relay.config.settings import Settings
from relay.core.sources import load_configured_sources

VALID_SOURCES = "sources:\n  acme:\n    auth: {type: bearer, secret: s0}\n"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A valid environment and sources file for `relay check`/`relay serve`."""
    path = tmp_path / "sources.yaml"
    path.write_text(VALID_SOURCES)
    monkeypatch.setenv("RELAY_SOURCES_FILE", str(path))
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_API_KEY", "oiq-key-0001")
    monkeypatch.setenv("RELAY_QUEUE_URL", f"sqlite:///{tmp_path}/q.db")
    return path


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("htp://x", "scheme 'htp'"),
        ("api.outboundiq.cloud", "no scheme"),
        ("https://", "no host"),
        ("https:///dials", "no host"),
        ("https://api.outboundiq.cloud:99999", "Port out of range"),
        ("https://api.outbound iq.cloud", "space"),
        ("https://user:pw@api.outboundiq.cloud", "credentials"),
    ],
)
def test_an_unusable_outboundiq_url_refuses_to_start(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    problem: str,
) -> None:
    """`relay serve` and `relay check` exit 2 naming RELAY_OUTBOUNDIQ_URL and the problem,
    instead of starting and retrying every dial for 72 hours."""
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_URL", url)
    for command in (["check"], ["serve"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "RELAY_OUTBOUNDIQ_URL" in err and problem in err
        assert "pw@" not in err


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://10.0.0.5:8080", True),
        ("http://outboundiq.internal", True),
        ("http://127.0.0.1:9000", False),
        ("http://localhost:9000/", False),
        ("http://[::1]:9000", False),
        ("https://api.outboundiq.cloud", False),
    ],
)
def test_plain_http_to_another_host_is_a_warning(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    warned: bool,
) -> None:
    """Plain http:// off the host is allowed, with a warning from `relay check` (exit 0) and a
    `config_warning` line at start."""
    monkeypatch.setenv("RELAY_OUTBOUNDIQ_URL", url)
    assert main(["check"]) == 0
    err = capsys.readouterr().err
    assert ("warning: RELAY_OUTBOUNDIQ_URL" in err) is warned
    configured = Settings()
    with capture_logs() as logs:
        create_app(configured, sources=load_configured_sources(configured))
    warnings = [e for e in logs if e["event"] == "config_warning"]
    assert bool(warnings) is warned
    assert all("plain http://" in e["warning"] for e in warnings)


@settings(max_examples=200)
@given(st.text(max_size=40) | st.builds(lambda s, r: s + "://" + r, st.text(max_size=8), st.text()))
def test_accepted_urls_are_http_with_a_host(url: str) -> None:
    """Whatever the text, the setting is either refused or an http(s) URL with a host."""
    try:
        accepted = Settings(outboundiq_url=url).outboundiq_url
    except ValidationError:
        return
    parts = urlsplit(accepted)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert not any(c.isspace() for c in accepted) and "@" not in parts.netloc


def test_a_short_admin_token_refuses_to_start(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """RELAY_ADMIN_TOKEN guards every call's events: under 16 characters it is refused,
    named and never quoted; an empty one is no token (the feed is off)."""
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "short-token-1")
    for command in (["check"], ["serve"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "RELAY_ADMIN_TOKEN: Value error, must be at least 16 characters" in err
        assert "short-token-1" not in err
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "  ")
    assert Settings().admin_token is None
    monkeypatch.setenv("RELAY_ADMIN_TOKEN", "a-long-enough-admin-token")
    token = Settings().admin_token
    assert token is not None and "a-long-enough" not in repr(Settings())
