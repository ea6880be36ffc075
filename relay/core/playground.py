"""The mapping playground's core: a source with the user's edits, and its stanza to paste.

The playground lets a user edit three parts of a running source, as YAML text: ``options``
(the mapping's), ``defaults`` and ``dispositions``. ``edit_source`` reads the three texts and
builds a new ``Source`` (same name, auth, key, zone and everything else) with them, through
the validation the sources file gets (``relay.config.sources.read_sources_file``, then
``relay.core.sources.collect_sources``, which builds the mapping); every problem (bad YAML,
an invalid value, options the mapping refuses) is an ``EditProblem`` naming the field and
the reason, never an exception. Nothing is queued, and the sources file is never written.

``${VAR}`` in an edit is read from the ``env`` given (none by default: a page must not show
the relay's environment), so an edit naming a variable is a problem unless the caller passes
it.

``stanza_yaml`` writes the edited source as it goes in the sources file, under ``sources:``.
It never holds a secret: an auth secret, ``api_key`` or secret-named mapping option written
as a ``${VAR}`` reference (``written_stanza``: the stanza as the file has it) is kept as
written; any other secret value becomes a reference to a variable named for it
(``${ACME_AUTH_SECRET}``), which a comment line lists.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError

from relay.config.problems import problems_of
from relay.config.sources import VAR_REFERENCE, SourceConfig, read_sources_file
from relay.config.strict_yaml import load_yaml
from relay.core.sources import Source, collect_sources
from relay.exceptions import ConfigError

__all__ = [
    "EDITABLE",
    "EditProblem",
    "Edited",
    "Edits",
    "apply_edits",
    "edit_source",
    "edit_texts",
    "parse_edits",
    "stanza_env",
    "stanza_yaml",
    "written_stanza",
]

#: The parts of a source the playground edits, in the order a page shows them.
EDITABLE = ("options", "defaults", "dispositions")

#: A mapping option under such a key is a secret (as ``relay.core.sources`` reads them).
_SECRET_KEY = re.compile(r"secret|password|passwd|token|api_key", re.IGNORECASE)
#: Maps whose keys are data, not names: a vendor's disposition code (``TOKEN``, say) or a Dials
#: field; only a value that is a configured secret is a secret there.
_DATA_KEYED = frozenset({"defaults", "dispositions", "call_directions"})
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}")


@dataclass(frozen=True)
class EditProblem:
    """Why an edit cannot be used: ``field`` is the dotted path from the edited part
    (``options``, ``defaults.zip``, ``options.fields.ani``), ``reason`` says why (never
    quoting the value)."""

    field: str
    reason: str


@dataclass
class Edits:
    """The three edited parts, as parsed from the user's YAML (each a mapping)."""

    options: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    dispositions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Edited:
    """``edit_source``'s outcome: the ``source`` with the edits (None when there are
    ``problems``), and the ``edits`` as parsed (for ``stanza_yaml``)."""

    source: Source | None
    edits: Edits
    problems: list[EditProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.source is not None and not self.problems


def parse_edits(
    *, options: str = "", defaults: str = "", dispositions: str = ""
) -> tuple[Edits, list[EditProblem]]:
    """The three YAML texts as mappings (an empty text: an empty mapping), read as strictly
    as the sources file (no aliases, no key twice); a text that is not YAML, or not a
    mapping, is a problem of its part (and that part is left empty)."""
    edits = Edits()
    problems: list[EditProblem] = []
    for part, text in zip(EDITABLE, (options, defaults, dispositions), strict=True):
        try:
            value = load_yaml(text, part) if text.strip() else None
        except ConfigError as exc:
            problems.append(EditProblem(part, str(exc).removeprefix(f"{part}: ")))
            continue
        if value is None:
            continue
        if not isinstance(value, dict):
            problems.append(EditProblem(part, "expected a mapping (key: value lines)"))
            continue
        setattr(edits, part, value)
    return edits, problems


def edit_source(
    source: Source,
    *,
    options: str = "",
    defaults: str = "",
    dispositions: str = "",
    mappings_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Edited:
    """``source`` with its ``options``, ``defaults`` and ``dispositions`` replaced by the
    YAML texts given, validated and built as the sources file's would be (module doc).
    ``mappings_dir``: the relay's ``RELAY_MAPPINGS_DIR``; ``env``: what ``${VAR}`` reads."""
    edits, problems = parse_edits(options=options, defaults=defaults, dispositions=dispositions)
    if problems:
        return Edited(None, edits, problems)
    return apply_edits(source, edits, mappings_dir=mappings_dir, env=env)


def apply_edits(
    source: Source,
    edits: Edits,
    *,
    mappings_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Edited:
    """``edit_source`` for edits already parsed."""
    config = source.config
    restored = Edits(_restored(edits.options, config.options), edits.defaults, edits.dispositions)
    document = {
        "sources": {
            source.name: {
                "mapping": config.mapping,
                "auth": {"type": "none"},  # stands in for the real one, validated already
                **{part: getattr(restored, part) for part in EDITABLE},
            }
        }
    }
    try:
        read = read_sources_file(yaml.safe_dump(document), env=env or {}, origin="edit")
    except ConfigError as exc:
        return Edited(None, edits, [EditProblem("options", str(exc))])
    collected = collect_sources(read, default_api_key=source.api_key, mappings_dir=mappings_dir)
    problems = [_problem(path, reason) for path, reason in collected.problems]
    edited = read.valid.get(source.name)
    built = collected.sources.get(source.name)
    if problems or edited is None or built is None:
        return Edited(None, edits, problems or [EditProblem("options", "not valid")])
    kept = {name: getattr(config, name) for name in config.model_fields_set}
    try:
        merged = SourceConfig.model_validate(
            {**kept, **{part: getattr(edited, part) for part in EDITABLE}}
        )
    except ValidationError as exc:  # not expected: every other field is the running one's
        found = problems_of(exc, {}, SourceConfig)
        return Edited(None, edits, [_problem(("sources", source.name, *p), r) for p, r in found])
    # the mapping built from the edited options (with a stand-in auth, which maps nothing)
    edited_source = Source(
        name=source.name, config=merged, mapping=built.mapping, api_key=source.api_key, tz=source.tz
    )
    return Edited(edited_source, edits)


def _restored(edited: dict[str, Any], running: Mapping[str, Any]) -> dict[str, Any]:
    """``edited`` options with each secret-named value that is a ``${VAR}`` reference (as
    ``edit_texts`` shows a secret) replaced by the running source's value at the same key, so
    a secret the page never saw still reaches the mapping."""
    out: dict[str, Any] = {}
    for key, value in edited.items():
        before = running.get(key) if isinstance(running, Mapping) else None
        if isinstance(value, dict) and isinstance(before, Mapping):
            out[key] = _restored(value, before)
        elif (
            isinstance(value, str)
            and isinstance(before, str)
            and _SECRET_KEY.search(str(key))
            and _REFERENCE.fullmatch(value.strip())
        ):
            out[key] = before
        else:
            out[key] = value
    return out


def _problem(path: tuple[Hashable, ...], reason: str) -> EditProblem:
    """A sources-file problem as the playground's: its path from the edited part. The
    mapping refusing its options is a problem of ``options``."""
    rest = [str(p) for p in path[2:]] if path[:1] == ("sources",) else [str(p) for p in path]
    if not rest or rest == ["mapping"]:
        rest = ["options"]
    return EditProblem(".".join(rest), reason)


def stanza_env(written: Mapping[str, Any] | None, environ: Mapping[str, str]) -> dict[str, str]:
    """What ``${VAR}`` may read in an edit: the variables the written stanza's own
    ``options``, ``defaults`` and ``dispositions`` already reference (not under a secret-named
    key: those come back from the running source), with their values in ``environ``. An edit
    cannot reach any other variable, so the page never shows one the file keeps elsewhere
    (an auth secret's)."""
    names: set[str] = set()

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, secret or bool(_SECRET_KEY.search(str(key))))
        elif isinstance(node, list):
            for value in node:
                walk(value, secret)
        elif isinstance(node, str) and not secret:
            names.update(m.group(1) for m in VAR_REFERENCE.finditer(node))

    for part in EDITABLE:
        walk((written or {}).get(part), False)
    return {name: environ[name] for name in sorted(names) if name in environ}


def written_stanza(text: str, name: str) -> dict[str, Any] | None:
    """Source ``name``'s stanza as the sources document ``text`` writes it (``${VAR}`` not
    replaced), or None when the document has no such source; ``ConfigError`` for a document
    that is not YAML."""
    raw = load_yaml(text, "sources file")
    sources = raw.get("sources") if isinstance(raw, dict) else None
    stanza = sources.get(name) if isinstance(sources, dict) else None
    return copy.deepcopy(stanza) if isinstance(stanza, dict) else None


def edit_texts(source: Source, written: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The YAML text a page starts each editable part with (``EDITABLE`` → text): as the
    sources file writes it when ``written`` (``written_stanza``) is given, else the running
    values; a secret-named option's value shows as a ``${VAR}`` reference, never the value."""
    stanza = _stanza(source, written, [])
    return {part: _dump(stanza[part]) if stanza.get(part) else "" for part in EDITABLE}


def stanza_yaml(source: Source, edits: Edits, *, written: Mapping[str, Any] | None = None) -> str:
    """The edited source as YAML to paste under ``sources:`` in the sources file (a
    ``name:`` line, its fields indented below), with ``edits`` in place of the three
    editable parts (an empty one left out). ``written``: the stanza as the file writes it
    (``written_stanza``), so ``${VAR}`` references and the other fields stay as written;
    without it, the running config is written out. Never holds a secret (module doc)."""
    named: list[str] = []
    stanza = _stanza(source, written, named)
    secrets = _secret_values(source)
    for part in EDITABLE:
        value = getattr(edits, part)
        if value:
            stanza[part] = _scrubbed(value, [source.name, part], part, named, secrets)
        else:
            stanza.pop(part, None)
    head = "".join(
        f"# ${{{var}}}: a secret, not copied: set it in the environment\n" for var in named
    )
    return head + _dump({source.name: stanza})


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, allow_unicode=True)


def _stanza(source: Source, written: Mapping[str, Any] | None, named: list[str]) -> dict[str, Any]:
    """The stanza (written, or the running config's), every secret made a reference (the
    variables it names added to ``named``)."""
    config = source.config
    shape = config.model_dump(mode="python", by_alias=True, exclude_unset=True)
    if written is None:
        plain = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
        base: dict[str, Any] = _secrets_marked(plain, shape)
    else:
        base = _secrets_marked(copy.deepcopy(dict(written)), shape)
    out: dict[str, Any] = _scrubbed(base, [source.name], None, named, _secret_values(source))
    return out


_SECRET = object()  # where the running config holds a SecretStr


def _secrets_marked(node: Any, shape: Any) -> Any:
    """``node`` with ``(_SECRET, value)`` where ``shape`` (the python dump) has a SecretStr."""
    if isinstance(shape, SecretStr):
        return (_SECRET, node)
    if isinstance(node, dict) and isinstance(shape, dict):
        return {k: _secrets_marked(v, shape.get(k)) for k, v in node.items()}
    if isinstance(node, list) and isinstance(shape, list):
        return [
            _secrets_marked(v, shape[i] if i < len(shape) else None) for i, v in enumerate(node)
        ]
    return node


def _secret_values(source: Source) -> frozenset[str]:
    """Every secret value of ``source``: its config's SecretStr values and key."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            found.add(node.get_secret_value())
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and _SECRET_KEY.search(str(key)):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(source.config.model_dump(mode="python"))
    if source.api_key is not None:
        found.add(source.api_key.get_secret_value())
    return frozenset(s for s in found if s)


def _scrubbed(
    node: Any,
    path: list[str],
    key: str | None,
    named: list[str],
    secrets: frozenset[str] = frozenset(),
) -> Any:
    """``node`` with every secret value replaced by a ``${VAR}`` reference (named after its
    path, the variable added to ``named``); references written as such are kept."""
    if isinstance(node, tuple) and len(node) == 2 and node[0] is _SECRET:
        return _reference(node[1], path, named)
    if isinstance(node, dict):
        data_keyed = key in _DATA_KEYED
        return {
            k: _scrubbed(v, [*path, str(k)], None if data_keyed else str(k), named, secrets)
            for k, v in node.items()
        }
    if isinstance(node, list):
        secret_list = key is not None and _SECRET_KEY.search(key) is not None
        return [
            _reference(v, [*path, str(i)], named)
            if secret_list and isinstance(v, str)
            else _scrubbed(v, [*path, str(i)], None, named, secrets)
            for i, v in enumerate(node)
        ]
    if isinstance(node, str) and ((key is not None and _SECRET_KEY.search(key)) or node in secrets):
        return _reference(node, path, named)
    return node


def _reference(value: Any, path: list[str], named: list[str]) -> Any:
    """``value`` when it is a ``${VAR}`` reference as written; else a new reference."""
    if isinstance(value, str) and _REFERENCE.fullmatch(value.strip()):
        return value
    var = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(path)).strip("_").upper()
    if var[:1].isdigit():
        var = f"SOURCE_{var}"
    if var not in named:
        named.append(var)
    return f"${{{var}}}"
