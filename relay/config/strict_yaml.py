"""YAML for configuration files: safe tags only, no aliases, no key written twice.

``yaml.safe_load`` accepts three things a sources file never needs and an attacker (or a
slip) can abuse:

* **aliases** (``*name``): nine nested aliases expand a 450-byte file into hundreds of
  millions of values (the "billion laughs") once anything walks the tree. The first alias is
  refused while the document is composed, before anything is built, with its line.
* **a key written twice**: the later value silently replaces the earlier one (an
  authenticated source replaced by ``auth: none`` further down). Refused at any depth,
  naming the key's path and both lines: ``sources.acme defined twice: lines 3 and 11``.
* **deep nesting**: the composer recurses once per level, so ``[[[[…`` thousands deep is a
  ``RecursionError``. Refused beyond ``MAX_DEPTH`` levels, with the line.

Errors never quote the document (a line may hold a secret): they name lines and paths only.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from relay.exceptions import ConfigError

__all__ = ["MAX_DEPTH", "Lines", "load_yaml", "load_yaml_lines"]

MAX_DEPTH = 64  # nesting levels; a sources file needs about 6
_MERGE = "tag:yaml.org,2002:merge"  # ``<<:`` merges into its mapping; it is not a key

#: The line (1-based) of every key and list item, by its path: ``("sources", "acme", "auth")``.
Lines = dict[tuple[Hashable, ...], int]


class _Refused(Exception):
    """What the loader refuses, with its reason (converted to a ``ConfigError``)."""


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses aliases and documents nested deeper than ``MAX_DEPTH``."""

    _depth = 0

    def _next_event(self) -> Any:
        return self.peek_event()  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self._next_event()
            raise _Refused(
                f"YAML aliases are not allowed (alias *{event.anchor} at line "
                f"{event.start_mark.line + 1}): write the value out where it is used"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self._next_event().start_mark
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "cannot parse"
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _key_of(loader: _StrictLoader, node: Node) -> Hashable | None:
    """The key a scalar node becomes (``1`` and ``01`` are one key); None for other nodes."""
    if not isinstance(node, ScalarNode) or node.tag == _MERGE:
        return None
    key = loader.construct_object(node, deep=True)
    return key if isinstance(key, Hashable) else None


def _check_duplicates(loader: _StrictLoader, root: Node) -> Lines:
    """Raise ``_Refused`` for the first key written twice in any mapping of ``root``; else the
    line of every key and list item."""
    lines: Lines = {}
    stack: list[tuple[Node, str, tuple[Hashable, ...]]] = [(root, "", ())]
    while stack:
        node, path, keys = stack.pop()
        if isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                lines[(*keys, i)] = child.start_mark.line + 1
                stack.append((child, f"{path}[{i}]", (*keys, i)))
        elif isinstance(node, MappingNode):
            first_line: dict[Hashable, int] = {}
            for key_node, value_node in node.value:
                key = _key_of(loader, key_node)
                where = f"{path}.{key}" if path else str(key)
                line = key_node.start_mark.line + 1
                if key is not None and key in first_line:
                    earlier = first_line[key]
                    both = (
                        f" on line {line}" if earlier == line else f": lines {earlier} and {line}"
                    )
                    raise _Refused(f"{where} defined twice{both}")
                if key is not None:
                    first_line[key] = line
                    lines[(*keys, key)] = line
                stack.append((value_node, where, (*keys, key)))
    return lines


def load_yaml(text: str, origin: str) -> Any:
    """The one document in ``text``; a ``ConfigError`` (prefixed ``origin``) for invalid YAML,
    an alias, a key written twice or nesting deeper than ``MAX_DEPTH``."""
    return load_yaml_lines(text, origin)[0]


def load_yaml_lines(text: str, origin: str) -> tuple[Any, Lines]:
    """``load_yaml`` and the line of every key and list item (to point errors at lines)."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _check_duplicates(loader, node)
        return loader.construct_document(node), lines
    except _Refused as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    except yaml.YAMLError as exc:  # its str() quotes the line, which may hold a secret
        raise ConfigError(f"{origin}: not valid YAML: {_problem(exc)}") from None
    finally:
        loader.dispose()
