"""pydantic's ``ValidationError`` as one line a person reads: ``where: what; where: what``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

__all__ = ["one_line"]


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
        for e in exc.errors(include_input=False, include_url=False)
    )
