"""pydantic's ``ValidationError`` as one line a person reads: ``where: what; where: what``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

__all__ = ["one_line", "union_collapsed"]

#: Location parts pydantic adds for union branches (``str``, ``FieldSpec``, ``list[...]``).
_BRANCH = re.compile(
    r"^(?:str|int|float|bool|none|dict|list)$|\[|^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$"
)


def _dotted(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc)


def one_line(
    exc: ValidationError,
    *,
    root: str = "",
    where: Callable[[Sequence[int | str]], str] = _dotted,
) -> str:
    """Every error of ``exc`` as ``where: message``, joined by ``; ``.

    ``where`` renders an error's location (dotted by default); ``root`` stands for an empty
    one (an error of the whole object). Input values are left out: they may be secrets.
    """
    return "; ".join(
        f"{where(e['loc']) or root}: {e['msg']}"
        for e in union_collapsed(exc.errors(include_input=False, include_url=False))
    )


def union_collapsed(errors: Sequence[Any]) -> list[Any]:
    """``errors`` with union branch names left out of each location, one error per place.

    A value that fits no branch of a union gets one error per branch (``str``, ``FieldSpec``,
    ``list[...]``); the branch that got furthest (the deepest location) is the one meant, and
    of several at one place the first is kept: ``transform: Input should be 'strip', ...``
    instead of three.
    """
    stripped = [
        {**e, "loc": tuple(p for p in e["loc"] if not (isinstance(p, str) and _BRANCH.search(p)))}
        for e in errors
    ]
    kept: list[Any] = []
    places: set[tuple[Any, ...]] = set()
    for error in stripped:
        loc = error["loc"]
        deeper = any(o["loc"][: len(loc)] == loc and len(o["loc"]) > len(loc) for o in stripped)
        if not deeper and loc not in places:
            places.add(loc)
            kept.append(error)
    return kept
