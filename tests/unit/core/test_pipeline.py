"""The pipeline's pure steps: parsing limits, malformed JSON."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError, fields

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from relay.core.mapping import InboundRequest
from relay.core.pipeline import json_too_deep, parse_request
from relay.exceptions import MappingError


def test_json_depth_limit_counts_objects_and_arrays() -> None:
    """Depth counts every nested object or array; scalars add nothing."""
    assert not json_too_deep({"a": [1, {"b": []}]}, 4)
    assert json_too_deep({"a": [1, {"b": [[]]}]}, 4)
    assert not json_too_deep("text", 0)
    deep: object = []
    for _ in range(100_000):  # no recursion: a deep value cannot overflow the stack
        deep = [deep]
    assert json_too_deep(deep, 32)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(_JSON, st.integers(0, 6))
def test_the_depth_limit_is_the_walks_answer(value: object, limit: int) -> None:
    """A body is refused as too deep exactly when ``json_too_deep`` says so: the cheap
    bracket count that skips the walk never lets a deep body through (text values with
    brackets included)."""
    body = orjson.dumps(value)
    if json_too_deep(value, limit):
        with pytest.raises(MappingError, match="nested deeper"):
            parse_request("POST", "application/json", {}, body, max_depth=limit)
    else:
        parse_request("POST", "application/json", {}, body, max_depth=limit)


@given(
    st.dictionaries(
        st.text(max_size=5), st.integers(-(2**63), 2**63 - 1) | st.text(max_size=5), min_size=1
    )
)
def test_malformed_json_is_named_with_its_line_and_column(data: dict[str, object]) -> None:
    """A JSON body cut short is `malformed JSON at line L, column C: why`, L and C inside
    the body (never read as something else)."""
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2)[:-1]
    with pytest.raises(MappingError) as caught:
        parse_request("POST", "application/json", {}, text)
    (problem,) = caught.value.problems
    match = re.fullmatch(r"malformed JSON at line (\d+), column (\d+): .+", problem.problem)
    assert problem.field == "body" and match is not None
    line, column = int(match[1]), int(match[2])
    lines = text.decode().split("\n")
    assert 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


@given(
    st.sampled_from(["POST", "GET"]),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
    st.binary(max_size=16),
)
def test_a_parsed_request_is_the_constructors_and_as_frozen(
    method: str, query: dict[str, str], body: bytes
) -> None:
    """``InboundRequest.parsed`` (intake's quick way) builds what the constructor builds,
    every field set (a field added to the class and not to it fails here), and as frozen."""
    args = (method, "application/json", query, body, {"k": "v"}, {"f": "1"})
    quick, usual = InboundRequest.parsed(*args), InboundRequest(*args)
    assert quick == usual
    assert [getattr(quick, f.name) for f in fields(InboundRequest)] == list(args)
    with pytest.raises(FrozenInstanceError):
        quick.body = b"changed"  # type: ignore[misc]
