"""Problems of a sources file pointed at their lines (relay.config.problems, strict_yaml lines)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.config.problems import render, written_path
from relay.config.strict_yaml import load_yaml_lines
from relay.config.validation import union_collapsed

_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_docs = st.recursive(
    st.text(alphabet="abc 0123", max_size=5),
    lambda children: (
        st.dictionaries(_keys, children, min_size=1, max_size=4)
        | st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


def _paths(node: Any, path: tuple[Hashable, ...] = ()) -> Iterator[tuple[Hashable, ...]]:
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


@settings(max_examples=60)
@given(st.dictionaries(_keys, _docs, min_size=1, max_size=4))
def test_every_key_and_item_has_the_line_that_wrote_it(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    loaded, lines = load_yaml_lines(text, "f")
    assert loaded == doc
    assert set(lines) == set(_paths(doc))
    written = text.splitlines()
    for path, line in lines.items():
        if isinstance(path[-1], str):
            assert path[-1] in written[line - 1]
        else:
            assert "-" in written[line - 1]


def test_union_branch_names_are_left_out_of_the_written_path() -> None:
    lines = {("sources",): 1, ("sources", "a"): 2, ("sources", "a", "auth"): 3}
    loc = ("sources", "a", "auth", "header", "secret")
    path = written_path(loc, lines, frozenset({"auth"}))
    assert path == ("sources", "a", "auth", "secret")
    assert render("f.yaml", [(path, "x")], lines) == "f.yaml:3: sources.a.auth.secret: x"
    field = ("sources", "a", "auth", "header", "header")  # HeaderAuth's own `header` key
    assert written_path(field, lines, frozenset({"auth"})) == ("sources", "a", "auth", "header")


def test_list_items_render_with_brackets() -> None:
    lines = {("s",): 1, ("s", 0): 2}
    assert render("f", [(("s", 0), "bad")], lines) == "f:2: s[0]: bad"


@settings(max_examples=40)
@given(st.lists(st.sampled_from(["str", "FieldSpec", "list[literal['a']]", "x"]), max_size=4))
def test_union_collapsed_keeps_one_error_per_place(branches: list[str]) -> None:
    errors = [{"loc": ("fields", "f", b, "t"), "msg": str(i)} for i, b in enumerate(branches)]
    kept = union_collapsed(errors)
    places = [e["loc"] for e in kept]
    assert len(places) == len(set(places))
    assert all(not any(p in ("str", "FieldSpec") or "[" in p for p in loc) for loc in places)
    assert bool(kept) == bool(errors)
