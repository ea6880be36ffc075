"""A secret carried as a field of a JSON body (``auth: {type: body-token}``; Aircall's
``token``): find it by its dotted path, and remove it before anything keeps the body.

Both functions take the raw body. A body that is not a JSON object, or has no string at the
path, presents no token (``token_at`` returns None) and is kept as it is (``without_token``).
The body without its token is the same JSON re-serialized (orjson keeps the key order and
every other value), so a rejected request stored that way replays without the token.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["checked_path", "split_path", "token_at", "without_token"]


def split_path(path: str) -> tuple[str, ...]:
    """``"auth.token"`` → ``("auth", "token")``; ``ValueError`` for an empty segment."""
    parts = tuple(path.split("."))
    if not path or any(not part for part in parts):
        raise ValueError(f"{path!r} is not a dotted path of JSON keys (e.g. token, auth.token)")
    return parts


def checked_path(path: str) -> str:
    """``path`` if it is a dotted path (a config validator), else ``ValueError``."""
    split_path(path)
    return path


def _load(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _parent(data: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The object holding the path's last key, or None."""
    node = data
    for key in path[:-1]:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def token_at(body: bytes, path: tuple[str, ...]) -> str | None:
    """The string at ``path`` in the JSON object ``body``, or None."""
    parent = _parent(_load(body), path)
    value = parent.get(path[-1]) if parent is not None else None
    return value if isinstance(value, str) else None


def without_token(body: bytes, path: tuple[str, ...]) -> bytes:
    """``body`` without the field at ``path`` (unchanged when it has none)."""
    data = _load(body)
    parent = _parent(data, path)
    if parent is None or path[-1] not in parent:
        return body
    del parent[path[-1]]
    return orjson.dumps(data)
