"""Reading a sources file keeps what is valid beside every problem, source by source, so that
one run of `relay check` can also check what only building the sources shows."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from relay.config.sources import read_sources_file

#: A source as written, and the field its defect is in (None: no defect).
SHAPES: dict[str, tuple[dict[str, Any], str | None]] = {
    "valid": ({"auth": {"type": "none"}}, None),
    "valid-full": (
        {"mapping": "five9", "auth": {"type": "bearer", "secret": "s3cret"}, "api_key": "k1"},
        None,
    ),
    "no-auth": ({"mapping": "generic"}, "auth"),
    "bad-zone": ({"auth": {"type": "none"}, "timezone": "Mars/Base"}, "timezone"),
    "misspelt": ({"auth": {"type": "none"}, "timezon": "UTC"}, "timezon"),
    "mapping-not-text": ({"auth": {"type": "none"}, "mapping": 5}, "mapping"),
    "options-not-mapping": ({"auth": {"type": "none"}, "options": [1]}, "options"),
    "unset-variable": ({"auth": {"type": "none"}, "api_key": "${RELAY_TEST_UNSET}"}, "api_key"),
    "zip-number": ({"auth": {"type": "none"}, "defaults": {"zip": 7030}}, "defaults"),
}

names = st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)


@given(st.dictionaries(names, st.sampled_from(sorted(SHAPES)), min_size=1, max_size=6))
def test_each_source_is_valid_or_partial_with_its_bad_fields(shapes: dict[str, str]) -> None:
    """Whatever mix of valid and broken sources: the valid ones validate, each broken one is
    kept partial with its defect's field marked bad and its other fields usable, and there
    are problems exactly when a source is broken, each inside a broken source."""
    document = {"sources": {n: copy.deepcopy(SHAPES[shape][0]) for n, shape in shapes.items()}}
    read = read_sources_file(yaml.safe_dump(document), env={}, origin="s.yaml")
    broken = {name for name, shape in shapes.items() if SHAPES[shape][1] is not None}
    assert set(read.valid) == set(shapes) - broken
    assert set(read.partial) == broken
    assert bool(read.problems) == bool(broken)
    for path, _message in read.problems:
        assert path[:1] == ("sources",) and path[1] in broken
    for name in broken:
        written, defect = SHAPES[shapes[name]]
        partial = read.partial[name]
        assert defect is not None and not partial.usable(defect)
        assert partial.fields == {k: v for k, v in written.items() if k != defect}
        assert all(partial.usable(k) for k in partial.fields)
