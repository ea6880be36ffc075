"""The sources file: interpolation, validation errors that point at the key, `relay check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.cli import main
from relay.core.sources import parse_sources
from relay.exceptions import ConfigError


def test_env_interpolation_and_secret_hidden() -> None:
    """${VAR} reads the environment; the secret never shows in repr."""
    text = """
sources:
  acme:
    auth: {type: header, header: X-Relay-Token, secret: "${HOOK}"}
    api_key: ${KEY}
"""
    sources = parse_sources(text, env={"HOOK": "s3cr3t-hook", "KEY": "s3cr3t-key"})
    acme = sources["acme"]
    assert acme.config.auth.all_secrets()[0].get_secret_value() == "s3cr3t-hook"  # type: ignore[union-attr]
    assert acme.api_key is not None and acme.api_key.get_secret_value() == "s3cr3t-key"
    for text_form in (repr(acme), repr(acme.config), str(acme.config)):
        assert "s3cr3t" not in text_form


def test_missing_variable_names_it_and_where() -> None:
    """A missing ${VAR} is an error naming the variable and the key that used it."""
    text = "sources:\n  acme:\n    auth: {type: bearer, secret: '${NOPE}'}\n"
    with pytest.raises(ConfigError, match=r"acme\.auth\.secret.*NOPE"):
        parse_sources(text, env={})


def test_fallback_syntax() -> None:
    """${VAR:-fallback} uses the fallback when VAR is unset."""
    text = "sources:\n  a:\n    auth: {type: bearer, secret: '${NOPE:-dflt}'}\n"
    assert parse_sources(text, env={})["a"].config.auth.type == "bearer"


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ("sources:\n  a:\n    auth: {type: magic}\n", "sources.a.auth"),
        ("sources:\n  a:\n    auth: {type: header}\n", "sources.a.auth.header"),
        ("sources:\n  a:\n    auth: {type: none}\n    timezone: Mars/X\n", "sources.a.timezone"),
        ("sources:\n  a:\n    auth: {type: none}\n    color: red\n", "sources.a.color"),
        (
            "sources:\n  a:\n    auth: {type: none}\n    defaults: {phone: 1}\n",
            "sources.a.defaults",
        ),
        ("sources:\n  a:\n    auth: {type: none}\n    mapping: nosuch\n", "sources.a.mapping"),
        (
            "sources:\n  a:\n    auth: {type: none}\n    options: {fields: {bogus: x}}\n",
            "sources.a.mapping",
        ),
        ("sources:\n  'bad name!':\n    auth: {type: none}\n", "sources"),
        ("- just\n- a list\n", "expected a mapping"),
        ("sources: [\n", "not valid YAML"),
    ],
)
def test_errors_point_at_source_and_key(text: str, pointer: str) -> None:
    """Each validation error names the source and key at fault."""
    with pytest.raises(ConfigError, match=pointer.replace(".", r"\.")):
        parse_sources(text, env={})


def test_relay_check_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`relay check` validates a file, lists each source, and prints no secret."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  acme:\n    auth: {type: query, param: key, secret: topsecretvalue}\n"
        "    api_key: oiq-secret-key\n"
    )
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "acme" in out and "/hooks/acme" in out
    assert "topsecretvalue" not in out and "oiq-secret-key" not in out


def test_relay_check_reports_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`relay check` exits 2 with the pointer to the bad key."""
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  acme:\n    auth: {type: header, secret: x}\n    mapping: nope\n")
    assert main(["check", str(path)]) == 2
    assert "sources.acme.mapping" in capsys.readouterr().err


def test_relay_check_missing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key for a source and outside dry-run, the error names RELAY_OUTBOUNDIQ_API_KEY."""
    monkeypatch.delenv("RELAY_OUTBOUNDIQ_API_KEY", raising=False)
    monkeypatch.delenv("RELAY_DRY_RUN", raising=False)
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  acme:\n    auth: {type: none}\n")
    assert main(["check", str(path)]) == 2
    assert "RELAY_OUTBOUNDIQ_API_KEY" in capsys.readouterr().err


def test_bundled_example_sources_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples shipped for `make run` pass validation."""
    monkeypatch.setenv("DEMO_HOOK_TOKEN", "x")
    monkeypatch.setenv("RELAY_DRY_RUN", "true")
    root = Path(__file__).resolve().parents[3]
    assert main(["check", str(root / "examples" / "sources.yaml")]) == 0


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ("{SALE: Sale, sale: Sold}", "'SALE' and 'sale' differ only in case"),
        ("{SALE: ''}", "codes and names must not be empty"),
    ],
)
def test_dispositions_table_is_checked(table: str, reason: str) -> None:
    """A source's `dispositions` names each code once (any case), and never as empty."""
    text = f"sources:\n  v:\n    auth: {{type: none}}\n    dispositions: {table}\n"
    with pytest.raises(ConfigError, match=rf"sources\.v\.dispositions.*{reason}"):
        parse_sources(text, env={})
