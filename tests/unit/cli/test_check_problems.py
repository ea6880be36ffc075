"""`relay check` reports every problem of a run at once, each with file, line, field and hint."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from relay.cli.main import main
from relay.config.sources import sources_schema

SEVERAL = """\
sources:
  acme:
    mapping: generic
    auth: {type: none}
    timezone: America/New_Yrok
    call_directions: {in: Inbund}
    options:
      fields:
        prospect_phone: "a.[b"
        datetime: {path: x, transform: digts}
  beta:
    auth: {type: header, secret: "${RELAY_TEST_NOPE}", hedaer: X-Key}
    defaults: {zip: 07030, lead_source: no}
    api_key: "${RELAY_TEST_ALSO_MISSING}"
    timezon: UTC
"""


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    code = main(["check", str(path)])
    return code, capsys.readouterr().err.replace(str(path), "sources.yaml")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAY_DRY_RUN", "1")
    monkeypatch.setenv("RELAY_QUEUE_URL", f"sqlite:///{tmp_path / 'q.db'}")
    monkeypatch.delenv("RELAY_LOG_LEVEL", raising=False)


def test_every_validation_problem_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing variables (all of them), misspelt keys and zones, YAML 1.1 numbers and booleans:
    one run names each with its line and field, in the order of the file; and what building
    a source shows (its mapping's options, its call directions) is checked even while
    another of its fields is invalid."""
    code, err = _check(tmp_path, SEVERAL, capsys)
    assert code == 2
    expected = [
        "sources.yaml:3: sources.acme.mapping: mapping 'generic' rejected its options: "
        "fields.prospect_phone.path: Value error, invalid JMESPath 'a.[b' at column 5: "
        "Invalid jmespath expression: Incomplete expression; fields.datetime.transform: "
        "Input should be 'strip', 'lower', 'upper', 'title', 'digits' or 'str'",
        "sources.yaml:5: sources.acme.timezone: Value error, unknown time zone "
        "'America/New_Yrok' (did you mean 'America/New_York'?)",
        "sources.yaml:6: sources.acme.call_directions.in: 'Inbund' is not an outboundIQ call "
        "direction (Inbound, Outbound, SMS, Treview, Transfer, Manual) (did you mean "
        "'Inbound'?)",
        "sources.yaml:12: sources.beta.auth.secret: environment variable RELAY_TEST_NOPE "
        "is not set",
        "sources.yaml:12: sources.beta.auth.hedaer: Extra inputs are not permitted "
        "(did you mean 'header'?)",
        "sources.yaml:13: sources.beta.defaults.zip: Input should be a valid string "
        "(YAML reads it as a number, dropping leading zeros: quote it)",
        "sources.yaml:13: sources.beta.defaults.lead_source: Input should be a valid string "
        "(YAML reads an unquoted yes/no/on/off as true/false: quote it)",
        "sources.yaml:14: sources.beta.api_key: environment variable RELAY_TEST_ALSO_MISSING "
        "is not set",
        "sources.yaml:15: sources.beta.timezon: Extra inputs are not permitted "
        "(did you mean 'timezone'?)",
    ]
    assert err.splitlines() == ["relay: error: " + expected[0], *expected[1:]]


def test_every_built_problem_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Once the file validates, every mapping and direction problem is named in one run: the
    JMESPath error names the Dials field, a transform typo is one line, a direction outside
    outboundIQ's vocabulary gets a "did you mean"."""
    text = SEVERAL.replace("America/New_Yrok", "UTC").replace("    timezon: UTC\n", "")
    text = text.replace('"${RELAY_TEST_NOPE}", hedaer', '"s3cret", header')
    text = text.replace("07030, lead_source: no", '"07030", lead_source: "no"')
    text = text.replace("${RELAY_TEST_ALSO_MISSING}", "key")
    code, err = _check(tmp_path, text, capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 2, err
    mapping, direction = lines
    assert mapping.startswith("relay: error: sources.yaml:3: sources.acme.mapping: ")
    assert "fields.prospect_phone.path: Value error, invalid JMESPath 'a.[b' at column 5" in mapping
    assert "fields.datetime.transform: Input should be 'strip'" in mapping
    assert "FieldSpec" not in mapping and "list[" not in mapping
    assert direction == (
        "sources.yaml:6: sources.acme.call_directions.in: 'Inbund' is not an outboundIQ call "
        "direction (Inbound, Outbound, SMS, Treview, Transfer, Manual) (did you mean 'Inbound'?)"
    )


def test_unknown_field_name_is_guessed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "sources:\n  a:\n    auth: {type: none}\n    options:\n      fields: {phone: x}\n"
    code, err = _check(tmp_path, text, capsys)
    assert code == 2
    assert "not Dials fields: phone (did you mean 'prospect_phone'?)" in err


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "RELAY_QUEUE_URL",
            "rabbit://host/q",
            [
                "relay: error: RELAY_QUEUE_URL: unsupported scheme 'rabbit' "
                "(use sqlite:// or redis://)",
                "sources.yaml:3: sources.a.auth: ",
            ],
        ),
        (
            "RELAY_LOG_LEVEL",
            "WARNIG",
            [
                "relay: error: RELAY_LOG_LEVEL: Value error, unknown log level 'WARNIG': use "
                "DEBUG, INFO, WARNING, ERROR, CRITICAL (did you mean WARNING?)",
                "sources.yaml:3: sources.a.auth: ",
            ],
        ),
        (
            "RELAY_PORT",
            "http",
            [
                "relay: error: RELAY_PORT: Input should be a valid integer",
                "sources.yaml:3: sources.a.auth: ",
            ],
        ),
    ],
    ids=["queue-url-with-the-sources", "log-level-with-the-sources", "port-with-the-sources"],
)
def test_settings_problems(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    expected: list[str],
) -> None:
    """`check` reads RELAY_QUEUE_URL as `serve` does; an unknown RELAY_LOG_LEVEL is refused,
    not silently INFO; each is reported with the sources file's problems, in one run."""
    monkeypatch.setenv(variable, value)
    code, err = _check(tmp_path, "sources:\n  a:\n    auth: {type: nope}\n", capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == len(expected)
    assert all(line.startswith(start) for line, start in zip(lines, expected, strict=True))


def test_valid_file_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  a:\n    auth: {type: none}\n    call_directions: {in: Inbound}\n")
    assert main(["check", str(path)]) == 0
    assert "1 source(s) valid" in capsys.readouterr().out


def test_schema_command_validates_the_documented_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`relay schema` prints a self-contained JSON Schema that accepts a valid sources file
    and turns away a misspelt key and an unknown auth type."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == sources_schema()
    assert "$ref" not in json.dumps(schema)
    good = yaml.safe_load(
        "sources:\n  acme:\n    auth: {type: header, header: X-Key, secret: s3cret}\n"
        "    timezone: America/New_York\n"
    )
    jsonschema.validate(good, schema)
    for bad in (
        {"sources": {"acme": {"auth": {"type": "none"}, "timezon": "UTC"}}},
        {"sources": {"acme": {"auth": {"type": "nope"}}}},
        {"sources": {"acme": {"mapping": "generic"}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
