"""The pipeline's pure steps: parsing limits."""

from __future__ import annotations

from relay.core.pipeline import json_too_deep


def test_json_depth_limit_counts_objects_and_arrays() -> None:
    """Depth counts every nested object or array; scalars add nothing."""
    assert not json_too_deep({"a": [1, {"b": []}]}, 4)
    assert json_too_deep({"a": [1, {"b": [[]]}]}, 4)
    assert not json_too_deep("text", 0)
    deep: object = []
    for _ in range(100_000):  # no recursion: a deep value cannot overflow the stack
        deep = [deep]
    assert json_too_deep(deep, 32)
