"""The intake pipeline's own RESP packing: byte for byte what redis-py sends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from relay.queue.redis.pipelining import pack

_ARG = (
    st.text()
    | st.binary()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
)
_CALL = st.tuples(
    st.text("0123456789abcdef", min_size=40, max_size=40),
    st.lists(st.text(min_size=1), min_size=1, max_size=4),
    st.lists(_ARG, max_size=12),
)


@given(st.lists(_CALL, min_size=1, max_size=5))
def test_pack_is_what_redis_py_sends(calls: list[tuple[str, list[str], list[object]]]) -> None:
    """Text as UTF-8, numbers as their repr, bytes as they are; many calls back to back."""
    expected = Connection().pack_commands(
        [("EVALSHA", sha, len(keys), *keys, *args) for sha, keys, args in calls]
    )
    assert pack(calls) == b"".join(expected)


@pytest.mark.parametrize("value", [None, True, [1], {"a": 1}])
def test_pack_refuses_what_redis_py_refuses(value: object) -> None:
    with pytest.raises(TypeError):
        pack([("0" * 40, ["k"], [value])])
