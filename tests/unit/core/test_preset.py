"""Presets: option merging (a property) and preset files that fail with a clear reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.preset import merge_options, read_preset
from relay.exceptions import ConfigError

leaf = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.lists(st.integers(), max_size=2))
trees = st.recursive(
    leaf, lambda c: st.dictionaries(st.sampled_from("abcde"), c, max_size=4), max_leaves=10
)
options = st.dictionaries(st.sampled_from("abcde"), trees, max_size=4)


def _get(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _leaves(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, dict) and tree:
        return [item for k, v in tree.items() for item in _leaves(v, (*path, k))]
    return [(path, tree)]


@given(options, options)
def test_merge_keeps_every_override_and_untouched_base(
    base: dict[str, Any], override: dict[str, Any]
) -> None:
    """Every value of the override is in the result; base keys it does not touch stay."""
    merged = merge_options(base, override)
    for path, value in _leaves(override):
        if path:
            found = _get(merged, path)
            assert found == value or (value == {} and isinstance(found, dict))
    for key in set(base) - set(override):
        assert merged[key] == base[key]
    assert merge_options(base, {}) == base
    assert merge_options({}, override) == override


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mapping: generic\noptions: [1]\n", "options: Input should be a valid dictionary"),
        ("colour: red\n", "colour: Extra inputs are not permitted"),
        ("options: {a: [\n", "is not valid YAML"),
        ("- a list\n", "must be a YAML mapping"),
        ("mapping: mine\n", "names itself"),
    ],
)
def test_bad_preset_files_name_the_preset_and_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    """A preset that cannot be used is a ConfigError naming the preset, its file and why."""
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"mapping 'mine' \(.*mine\.yaml\)") as caught:
        read_preset(path, "mine")
    assert reason in str(caught.value)
