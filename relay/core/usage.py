"""Which input keys a request's mapping did not use (``relay preview``, ``/preview``).

A mapping is any code (JMESPath, a vendor's parameter table, a plug-in), so what it read is
found by trying, not by reading its options: a key is unused when the mapping, run again
without it, gives the same result (the same fields, job, ignore reason and warnings, or the
same problems). Keys are removed one after another and stay removed while the result does
not change, so of two keys that feed ``a || b`` with the same value one is reported, never
both. A nested object whose removal changes the result is searched key by key (reported as
``detail.region``); lists are taken whole. A key that is used only as a fallback (Five9's
``number`` when ``dnis`` is set) is unused *for this request*, and listed.

Each probe runs the mapping once (pure, no I/O: the request path's rule); at most
``MAX_PROBES`` are run, so a very large body is only searched that far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from relay.core.mapping import InboundRequest, MappingResult
from relay.core.pipeline import call_mapping
from relay.core.sources import Source
from relay.exceptions import MappingError, Problem

__all__ = ["MAX_PROBES", "KeyPath", "probe_request", "unused_keys", "value_at", "without_key"]

MAX_PROBES = 512

_Outcome = MappingResult | list[Problem]
KeyPath = tuple[str, ...]


def _outcome(source: Source, request: InboundRequest) -> _Outcome:
    try:
        return call_mapping(source, request)
    except MappingError as exc:
        return exc.problems


def without_key(data: Mapping[str, Any], path: KeyPath) -> dict[str, Any]:
    """A copy of ``data`` without the key at ``path`` (only the dicts on the path copied)."""
    head, rest = path[0], path[1:]
    out = dict(data)
    if not rest:
        del out[head]
    else:
        out[head] = without_key(data[head], rest)
    return out


def value_at(data: Mapping[str, Any], path: KeyPath) -> Any:
    """The value at ``path`` (a key per level) in ``data``."""
    node: Any = data
    for key in path:
        node = node[key]
    return node


def probe_request(request: InboundRequest, data: dict[str, Any]) -> InboundRequest:
    """``request`` with ``data``; a top-level key gone from ``data`` is gone from the query
    and the form too (a mapping may read those directly)."""
    return replace(
        request,
        data=data,
        query={k: v for k, v in request.query.items() if k in data},
        form={k: v for k, v in request.form.items() if k in data},
    )


def unused_keys(
    source: Source, request: InboundRequest, baseline: MappingResult | None = None
) -> list[str]:
    """The input keys (dotted paths) that no field of ``source``'s mapping used, in input
    order. ``baseline``: the mapping's result for ``request``, when already known."""
    if not isinstance(request.data, dict) or not request.data:
        return []
    expected: _Outcome = baseline if baseline is not None else _outcome(source, request)
    current: dict[str, Any] = request.data
    unused: list[str] = []
    pending: list[KeyPath] = [(str(k),) for k in reversed(list(current))]
    probes = 0
    while pending and probes < MAX_PROBES:
        path = pending.pop()
        probes += 1
        trial = without_key(current, path)
        if _outcome(source, probe_request(request, trial)) == expected:
            current = trial
            unused.append(".".join(path))
            continue
        value = value_at(current, path)
        if isinstance(value, dict):
            pending.extend((*path, str(k)) for k in reversed(list(value)))
    return unused
