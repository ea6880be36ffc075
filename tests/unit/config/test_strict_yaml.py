"""The configuration YAML loader: safe_load's answers, minus aliases, repeated keys, depth."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.config.strict_yaml import MAX_DEPTH, load_yaml
from relay.exceptions import ConfigError

names = st.from_regex(r"k[a-z0-9_]{0,8}", fullmatch=True)  # never a bool or null
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100)
@given(documents)
def test_alias_free_documents_load_as_safe_load_does(document: Any) -> None:
    """What has no alias, no repeated key and normal depth loads exactly as safe_load."""
    text = yaml.safe_dump({"top": document})
    assert load_yaml(text, "f") == yaml.safe_load(text)


@settings(max_examples=100)
@given(st.lists(names, min_size=1, max_size=8))
def test_a_repeated_key_names_both_lines(keys: list[str]) -> None:
    """One key per line: loads as a dict when every key is new, else names the first repeat."""
    text = "".join(f"{key}: {i}\n" for i, key in enumerate(keys))
    seen: dict[str, int] = {}
    for line, key in enumerate(keys, start=1):
        if key in seen:
            with pytest.raises(ConfigError) as caught:
                load_yaml(text, "f")
            assert str(caught.value) == f"f: {key} defined twice: lines {seen[key]} and {line}"
            return
        seen[key] = line
    assert load_yaml(text, "f") == {key: i for i, key in enumerate(keys)}


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=6), names)
def test_any_alias_is_refused_with_its_line(depth: int, anchor: str) -> None:
    """An alias at any depth is refused at its line, before the document is built."""
    opening = "".join(f"{'  ' * i}k{i}:\n" for i in range(depth))
    indent = "  " * depth
    text = f"{opening}{indent}a: &{anchor} [1, 2]\n{indent}b: *{anchor}\n"
    with pytest.raises(ConfigError, match=rf"alias \*{anchor} at line {depth + 2}\)"):
        load_yaml(text, "f")


def test_depth_limit_and_merge_keys() -> None:
    """MAX_DEPTH levels load, one more is refused; `<<:` is a merge, not a repeated key."""
    assert load_yaml("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1), "f") is not None
    with pytest.raises(ConfigError, match=re.escape(f"deeper than {MAX_DEPTH} levels")):
        load_yaml("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "f")
    assert load_yaml("a: {<<: {x: 1}, y: 2}\n", "f") == {"a": {"x": 1, "y": 2}}


def test_errors_never_quote_the_document() -> None:
    """A YAML error names a line and column, never the text (it may be a secret)."""
    with pytest.raises(ConfigError) as caught:
        load_yaml('secret: "hunter2-oops\n', "f")
    assert "hunter2" not in str(caught.value) and "line" in str(caught.value)
