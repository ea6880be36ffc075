"""``auth: {type: body-token}`` (Aircall): the token is a field of the JSON body, found by a
dotted path, compared in constant time, and removed before anything keeps the body. The
scheme-independent checks (good/wrong/missing/rotated secrets) run in test_auth.py."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from relay.config.auth import AuthConfig, BodyTokenAuth
from relay.config.body_token import split_path, token_at, without_token
from relay.exceptions import AuthError

_auth = TypeAdapter(AuthConfig)
TOKEN = "58ffd2bc5f3113f7bebf210a49299a1b"


def _scheme(**config: Any) -> BodyTokenAuth:
    auth = _auth.validate_python({"type": "body-token", **config})
    assert isinstance(auth, BodyTokenAuth)
    return auth


def _verify(auth: BodyTokenAuth, body: bytes) -> bool:
    try:
        auth.verify(headers={}, query={}, body=body)
    except AuthError:
        return False
    return True


def test_a_nested_path_is_read_and_the_top_level_is_not() -> None:
    auth = _scheme(path="meta.auth.token", secret=TOKEN)
    assert _verify(auth, orjson.dumps({"meta": {"auth": {"token": TOKEN}}}))
    assert not _verify(auth, orjson.dumps({"token": TOKEN}))
    assert not _verify(auth, orjson.dumps({"meta": {"auth": [TOKEN]}}))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"' + TOKEN.encode() + b'"', b'{"token": 123}',
     b'{"token": null}', b'{"token": ["' + TOKEN.encode() + b'"]}'],
)  # fmt: skip
def test_bodies_without_a_string_token_are_refused(body: bytes) -> None:
    assert not _verify(_scheme(secret=TOKEN), body)


def test_a_bad_path_is_a_configuration_error() -> None:
    for path in ("", ".token", "token.", "a..b"):
        with pytest.raises(ValidationError, match="dotted path"):
            _scheme(path=path, secret=TOKEN)


def test_without_secret_removes_only_the_token_and_keeps_the_rest() -> None:
    """What is stored (a rejected request) replays: the same JSON minus the token."""
    body = b'{"resource":"call","event":"call.ended","token":"' + TOKEN.encode()
    body += b'","data":{"id":780836699,"raw_digits":"+43 720 880079","cost":"0.0","x":1.5}}'
    query, stripped = _scheme(secret=TOKEN).without_secret({"a": "1"}, "application/json", body)
    assert query == {"a": "1"}
    assert TOKEN.encode() not in stripped
    expected = json.loads(body)
    del expected["token"]
    assert json.loads(stripped) == expected
    assert list(json.loads(stripped)) == ["resource", "event", "data"]  # the order is kept


def test_a_body_without_the_token_is_kept_as_it_is() -> None:
    auth = _scheme(secret=TOKEN)
    for body in (b'{"event": "call.ended"}', b"not json", b"", b"[1]"):
        assert auth.without_secret({}, "application/json", body)[1] is body


def test_repr_hides_the_token() -> None:
    auth = _scheme(secrets=[TOKEN, "another-token"])
    assert TOKEN not in repr(auth) and TOKEN not in str(auth.model_dump())


# --- properties of the dotted-path helpers --------------------------------------------------

_keys = st.text(alphabet="abtoken_", min_size=1, max_size=5)
_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=6)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_paths = st.lists(_keys, min_size=1, max_size=3)


@given(st.dictionaries(_keys, _json, max_size=4), _paths, st.text(min_size=1, max_size=12))
def test_a_planted_token_is_found_then_removed(
    document: dict[str, Any], path: list[str], token: str
) -> None:
    """Planted at any path of any object, the token is found there, and removing it gives
    the document without that one field (every other value and key order kept)."""
    node = document
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = token
    body = orjson.dumps(document)
    dotted = split_path(".".join(path))
    assert token_at(body, dotted) == token
    stripped = without_token(body, dotted)
    assert token_at(stripped, dotted) is None
    del node[path[-1]]
    assert orjson.loads(stripped) == document
    assert stripped == orjson.dumps(document)


@given(st.binary(max_size=64), _paths)
def test_any_bytes_are_safe(body: bytes, path: list[str]) -> None:
    """Arbitrary bytes never raise: no token is found, or it is a string and is removable."""
    dotted = split_path(".".join(path))
    found = token_at(body, dotted)
    stripped = without_token(body, dotted)
    if found is None:
        assert token_at(stripped, dotted) is None
    else:
        assert isinstance(found, str) and token_at(stripped, dotted) is None
