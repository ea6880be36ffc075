"""The mapping playground's core (``relay.core.playground``): edits, and the stanza to paste."""

from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

import relay.core.playground
import relay.core.provenance
from relay.core.pipeline import parse_request
from relay.core.playground import (
    EditProblem,
    Edits,
    edit_source,
    edit_texts,
    parse_edits,
    stanza_env,
    stanza_yaml,
    written_stanza,
)
from relay.core.provenance import explain
from relay.core.sources import Source, load_sources, parse_sources
from relay.exceptions import ConfigError
from tests.conftest import DEFAULT_KEY

HOOK_SECRET = "acme-hook-secret-from-env-7f3a9"
INLINE_SECRET = "inline-twilio-auth-token-5c2e81"
INLINE_KEY = "inline-outboundiq-key-90ab1c"
OPTION_SECRET = "genesys-client-secret-3d4e5f"
SECRETS = (HOOK_SECRET, INLINE_SECRET, INLINE_KEY, OPTION_SECRET)
ENV = {"ACME_HOOK_TOKEN": HOOK_SECRET}

SOURCES = f"""
sources:
  acme:
    mapping: generic
    auth: {{type: header, header: X-Relay-Token, secret: "${{ACME_HOOK_TOKEN}}"}}
    timezone: America/Chicago
    allow_ips: [10.0.0.0/8]
    rate_limit: 50/s
    defaults: {{lead_source: crm}}
    options:
      fields:
        ani: call.from
        prospect_phone: call.to
        datetime: call.at
        disposition_name: result
  tw:
    mapping: twilio
    api_key: {INLINE_KEY}
    auth:
      type: twilio-signature
      secret: {INLINE_SECRET}
      public_url: https://relay.example.com/hooks/tw
  gen:
    mapping: genesys
    auth: {{type: basic, username: ops, passwords: ["{INLINE_SECRET}", "${{ACME_HOOK_TOKEN}}"]}}
    options: {{client_id: cid-0001, client_secret: {OPTION_SECRET}}}
"""


def _sources() -> dict[str, Source]:
    return parse_sources(SOURCES, env=ENV, default_api_key=SecretStr(DEFAULT_KEY))


def _request(**body: Any) -> Any:
    return parse_request("POST", "application/json", {}, orjson.dumps(body))


BODY = {
    "call": {"from": "5125550100", "to": "5125550187", "at": "2026-08-03 09:00:06"},
    "result": "S",
    "zip": "",
}


def test_edits_change_what_the_request_maps_to() -> None:
    """A rejected request (no disposition table, a field the options do not read) fixed by
    edits: a dispositions table, a default and an expression; the running source is
    untouched and everything else of it is kept."""
    acme = _sources()["acme"]
    before = explain(acme, _request(**BODY))
    assert before.field("disposition_name").value == "S"
    edited = edit_source(
        acme,
        options="fields:\n  ani: call.from\n  prospect_phone: call.to\n  datetime: call.at\n"
        "  disposition_name: result\n  campaign_name: {const: Spring}\n",
        defaults="lead_source: crm\nzip: '07030'\n",
        dispositions="s: Sale\n",
    )
    assert edited.ok and edited.problems == []
    assert edited.source is not None
    new = edited.source
    assert (new.name, new.config.auth, new.api_key, new.tz) == (
        acme.name,
        acme.config.auth,
        acme.api_key,
        acme.tz,
    )
    assert new.config.allow_ips == acme.config.allow_ips
    assert new.config.rate_limit == acme.config.rate_limit
    assert "timezone" in new.config.model_fields_set  # no "time zone guessed" warning now
    after = explain(new, _request(**BODY))
    assert after.dial is not None
    assert after.field("disposition_name").changed_by == "dispositions table"
    assert after.dial["disposition_name"] == "Sale"
    assert (after.field("zip").value, after.field("zip").default) == ("07030", True)
    assert after.field("campaign_name").expression == "const 'Spring'"
    assert acme.config.dispositions == {}  # the running source is unchanged
    assert explain(acme, _request(**BODY)).dial == before.dial


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ({"options": "fields: ["}, "options"),
        ({"defaults": "- zip"}, "defaults"),
        ({"defaults": "a: 1\na: 2"}, "defaults"),
        ({"defaults": "zipp: x"}, "defaults"),
        ({"defaults": "zip: 07030"}, "defaults.zip"),
        ({"dispositions": "S: ''"}, "dispositions"),
        ({"options": "fields: {ani: 'call.['}"}, "options"),
        ({"options": "fieldz: {}"}, "options"),
        ({"defaults": "zip: '${HOME}'"}, "defaults.zip"),
    ],
)
def test_bad_edits_are_problems_naming_the_field(texts: dict[str, str], expected: str) -> None:
    """Bad YAML, a list, a key twice, an unknown Dials field, a number YAML made of a ZIP,
    an empty name, an invalid JMESPath, an unknown option, an environment variable (the
    playground reads none): each a problem of its field, never an exception."""
    edited = edit_source(_sources()["acme"], **texts)
    assert edited.source is None and not edited.ok
    assert [p.field for p in edited.problems] == [expected], edited.problems
    assert all(p.reason for p in edited.problems)


def test_every_problem_at_once() -> None:
    edited = edit_source(_sources()["acme"], options="fields: {ani: 'call.['}", defaults="zipp: x")
    assert {p.field for p in edited.problems} == {"options", "defaults"}


def test_parse_edits_reads_empty_texts_as_empty() -> None:
    assert parse_edits() == (Edits(), [])
    edits, problems = parse_edits(defaults="zip: [", dispositions="S: Sale")
    assert edits.dispositions == {"S": "Sale"}
    assert problems[0].field == "defaults"
    assert isinstance(problems[0], EditProblem)


def _round_trip(stanza: str, env: dict[str, str]) -> Source:
    document = "sources:\n" + textwrap.indent(stanza, "  ")
    (name,) = (sources := parse_sources(document, env=env, default_api_key=None))
    return sources[name]


def _placeholders(stanza: str) -> dict[str, str]:
    names = [line.split("}", 1)[0].removeprefix("# ${") for line in stanza.splitlines()
             if line.startswith("# ${")]  # fmt: skip
    return {name: f"stand-in-{name.lower()}" for name in names}


@pytest.mark.parametrize("name", ["acme", "tw", "gen"])
@pytest.mark.parametrize("written", [True, False])
def test_stanza_has_the_edits_and_no_secret(name: str, written: bool) -> None:
    """The stanza, as written in the file or from the running config: the edits in place,
    `${VAR}` references kept when written so, every inline secret a named reference listed
    in a comment; pasted into a sources file it reads back as the edited source."""
    source = _sources()[name]
    stanza_written = written_stanza(SOURCES, name) if written else None
    edits = Edits(
        options=dict(source.config.options),
        defaults={"lead_source": "playground"},
        dispositions={"completed": "Connected"},
    )
    stanza = stanza_yaml(source, edits, written=stanza_written)
    for secret in SECRETS:
        assert secret not in stanza
    if written and name == "acme":
        assert "secret: ${ACME_HOOK_TOKEN}" in stanza
        assert "# $" not in stanza  # nothing inline to replace
    if name == "tw":
        assert "secret: ${TW_AUTH_SECRET}" in stanza
        assert "api_key: ${TW_API_KEY}" in stanza
        assert "# ${TW_AUTH_SECRET}: a secret, not copied: set it in the environment" in stanza
    if name == "gen":
        assert "client_secret: ${GEN_OPTIONS_CLIENT_SECRET}" in stanza
    env = {**ENV, **_placeholders(stanza)}
    back = _round_trip(stanza, env)
    assert back.name == name
    assert back.config.defaults == {"lead_source": "playground"}
    assert back.config.dispositions == {"completed": "Connected"}
    assert back.config.mapping == source.config.mapping
    assert back.config.timezone == source.config.timezone
    assert back.config.auth.type == source.config.auth.type


def test_edit_texts_show_written_references_and_never_a_secret() -> None:
    """The texts a page starts with: the written options, a secret option as a reference,
    which edit_source reads back as the running secret (the page never saw it)."""
    gen = _sources()["gen"]
    texts = edit_texts(gen, written_stanza(SOURCES, "gen"))
    assert OPTION_SECRET not in texts["options"]
    assert "client_secret: ${GEN_OPTIONS_CLIENT_SECRET}" in texts["options"]
    edited = edit_source(gen, **texts)
    assert edited.ok, edited.problems
    assert edited.source is not None
    assert edited.source.config.options["client_secret"] == OPTION_SECRET
    assert OPTION_SECRET not in stanza_yaml(gen, edited.edits)
    assert edit_texts(_sources()["acme"])["dispositions"] == ""


def test_written_stanza() -> None:
    assert written_stanza(SOURCES, "nope") is None
    acme = written_stanza(SOURCES, "acme")
    assert acme is not None and acme["auth"]["secret"] == "${ACME_HOOK_TOKEN}"
    with pytest.raises(ConfigError):
        written_stanza("sources: [", "acme")


_CODES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1,
                 max_size=10).filter(str.strip)  # fmt: skip


@settings(max_examples=60, deadline=None)
@example(dispositions={"TOKEN": "0"}, lead="0", secret="a00000000000", written=False)  # a code
@given(
    dispositions=st.dictionaries(_CODES, _CODES, max_size=4),
    lead=_CODES,
    secret=st.from_regex(r"[a-z][a-z0-9]{11,29}", fullmatch=True),
    written=st.booleans(),
)
def test_stanza_round_trips_and_never_holds_the_secret(
    dispositions: dict[str, str], lead: str, secret: str, written: bool
) -> None:
    """Any edits: the stanza parses back (through the sources-file reader) to the same edits,
    and no inline secret (auth, key) appears in it."""
    folded = {k.casefold() for k in dispositions}
    if len(folded) != len(dispositions):
        return  # codes differing only in case: the sources file refuses them (tested above)
    document = SOURCES.replace(INLINE_SECRET, secret)
    sources = parse_sources(document, env=ENV, default_api_key=SecretStr(DEFAULT_KEY))
    source = sources["tw"]
    edits = Edits(defaults={"lead_source": lead}, dispositions=dispositions)
    edited = edit_source(
        source,
        defaults=stanza_part(edits.defaults),
        dispositions=stanza_part(edits.dispositions),
    )
    assert edited.ok, edited.problems
    stanza = stanza_yaml(source, edits, written=written_stanza(document, "tw") if written else None)
    assert secret not in stanza
    back = _round_trip(stanza, {**ENV, **_placeholders(stanza)})
    assert back.config.defaults == {"lead_source": lead}
    assert back.config.dispositions == dispositions


def stanza_part(value: dict[str, str]) -> str:
    return yaml.safe_dump(value) if value else ""


def test_nothing_is_queued_or_written(tmp_path: Path) -> None:
    """Explaining and editing read the sources file's source only: the file is unchanged,
    no file appears, and neither module can reach a queue (none imported)."""
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text(SOURCES, encoding="utf-8")
    before = (sources_file.read_bytes(), sources_file.stat().st_mtime_ns)
    listing = sorted(os.listdir(tmp_path))
    cwd_listing = sorted(os.listdir(Path.cwd()))
    loaded = load_sources(sources_file, env=ENV, default_api_key=SecretStr(DEFAULT_KEY))
    acme = loaded["acme"]
    edited = edit_source(acme, dispositions="S: Sale", defaults="zip: '07030'")
    assert edited.source is not None
    explain(edited.source, _request(**BODY))
    stanza_yaml(acme, edited.edits, written=written_stanza(SOURCES, "acme"))
    assert (sources_file.read_bytes(), sources_file.stat().st_mtime_ns) == before
    assert sorted(os.listdir(tmp_path)) == listing
    assert sorted(os.listdir(Path.cwd())) == cwd_listing
    for module in (relay.core.playground, relay.core.provenance):
        assert module.__file__ is not None
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
        }
        assert not any(name and name.startswith("relay.queue") for name in imported)
        assert "open(" not in Path(module.__file__).read_text(encoding="utf-8")


def test_an_edit_reads_only_the_variables_its_own_parts_reference() -> None:
    written = {
        "auth": {"type": "bearer", "secret": "${HOOK_SECRET}"},
        "api_key": "${OIQ_KEY}",
        "options": {
            "fields": {"campaign_name": "'${CAMPAIGN:-spring}'"},
            "client_secret": "${CLIENT_SECRET}",
        },
        "defaults": {"lead_source": "${LEAD_SOURCE}", "skill_name": "${MISSING}"},
    }
    environ = {
        "HOOK_SECRET": "h-secret",
        "OIQ_KEY": "k",
        "CLIENT_SECRET": "c",
        "CAMPAIGN": "summer",
        "LEAD_SOURCE": "crm",
        "OTHER": "x",
    }
    assert stanza_env(written, environ) == {"CAMPAIGN": "summer", "LEAD_SOURCE": "crm"}
    assert stanza_env(None, environ) == {}
