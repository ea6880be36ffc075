"""The sources file: interpolation, validation errors that point at the key, `relay check`."""

from __future__ import annotations

import re
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
        ("sources:\n  a:\n    auth: {type: header}\n", "sources.a.auth: Value error, set `secret`"),
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
        (
            "sources:\n  a:\n    auth: {type: none}\n    coalesce_seconds: -1\n",
            "sources.a.coalesce_seconds",
        ),
        (
            "sources:\n  a:\n    auth: {type: none}\n    coalesce_seconds: 90000\n",
            "sources.a.coalesce_seconds",
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


@pytest.mark.parametrize(
    ("mapping", "configured", "window"),
    [
        ("five9", None, 900.0),  # Five9 reports a transferred call once per agent
        ("five9", "0", 0.0),
        ("five9", "120", 120.0),
        ("generic", None, 0.0),
        ("generic", "30", 30.0),
        ("vicidial", None, 0.0),
    ],
)
def test_coalesce_seconds_default_per_mapping(
    mapping: str, configured: str | None, window: float
) -> None:
    """Legs coalesce by default for Five9 only; a source's coalesce_seconds overrides."""
    extra = f"\n    coalesce_seconds: {configured}" if configured is not None else ""
    text = f"sources:\n  a:\n    mapping: {mapping}\n    auth: {{type: none}}{extra}\n"
    assert parse_sources(text, env={})["a"].coalesce_seconds == window


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
    path.write_text("sources:\n  acme:\n    auth: {type: header, secret: xy}\n    mapping: nope\n")
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
    monkeypatch.setenv("DEMO_HOOK_TOKEN", "demo-token")
    monkeypatch.setenv("RELAY_DRY_RUN", "true")
    root = Path(__file__).resolve().parents[3]
    assert main(["check", str(root / "examples" / "sources.yaml")]) == 0


def _alias_bomb(levels: int) -> str:
    """The billion laughs: each level is nine aliases of the one above."""
    lines = ["sources:", '  l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        refs = ",".join([f"*l{n - 1}"] * 9)
        lines.append(f"  l{n}: &l{n} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [3, 9])
def test_alias_bomb_is_refused_before_it_expands(levels: int) -> None:
    """Nested aliases (9 levels: ~450 bytes, 387 million strings) are refused at the first
    alias, naming its line, before interpolation or validation walk the expansion."""
    text = _alias_bomb(levels)
    with pytest.raises(ConfigError, match=r"line 3.*alias|alias.*line 3"):
        parse_sources(text, env={})


def test_a_single_alias_is_refused_with_its_line() -> None:
    """Even a harmless-looking alias is refused: the file says every value once."""
    text = "sources:\n  a:\n    auth: &auth {type: bearer, secret: s0}\n  b:\n    auth: *auth\n"
    with pytest.raises(ConfigError, match=r"sources file: .*alias \*auth.* line 5"):
        parse_sources(text, env={})


def test_deep_nesting_is_a_config_error() -> None:
    """A document nested thousands deep is a ConfigError naming the line, not a crash."""
    text = "sources:\n  a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ConfigError, match=r"nested deeper than \d+ levels at line 2"):
        parse_sources(text, env={})


AUTHENTICATED_THEN_OPEN = """\
sources:
  acme:
    auth: {type: header, header: X-Relay-Token, secret: s3cr3t}
    timezone: America/Chicago
  other:
    auth: {type: bearer, secret: other}
  acme:
    auth: {type: none}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (AUTHENTICATED_THEN_OPEN, "sources.acme defined twice: lines 2 and 7"),
        (
            "sources:\n  a:\n    auth: {type: bearer, secret: s0, type: none}\n",
            "sources.a.auth.type defined twice on line 3",
        ),
        (
            "sources:\n  a:\n    auth: {type: none}\nsources:\n  b:\n    auth: {type: none}\n",
            "sources defined twice: lines 1 and 4",
        ),
        (
            "sources:\n  a:\n    auth: {type: none}\n    options:\n"
            "      fields: {ani: x}\n      fields: {ani: y}\n",
            "sources.a.options.fields defined twice: lines 5 and 6",
        ),
        (
            "sources:\n  a:\n    auth: {type: none}\n    allow_ips: [{x: 1, x: 2}]\n",
            "sources.a.allow_ips[0].x defined twice on line 4",
        ),
        (
            "sources:\n  a:\n    auth: {type: none}\n    defaults: {1: a, 01: b}\n",
            "sources.a.defaults.1 defined twice on line 4",
        ),
    ],
)
def test_duplicate_keys_at_any_level_name_both_lines(text: str, message: str) -> None:
    """A key written twice is an error naming both lines, never a silent replacement (an
    authenticated source replaced by `auth: none`)."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_sources(text, env={})


def test_relay_check_warns_about_auth_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`auth: none` is allowed (exit 0) but `relay check` warns about it, by source."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  open:\n    auth: {type: none}\n    api_key: k1\n"
        "  closed:\n    auth: {type: bearer, secret: s0}\n    api_key: k2\n"
    )
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert "2 source(s) valid" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: sources.open: auth: none: anyone who can reach")


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
