"""``POST|GET /preview/<source>``: what a request maps to, without queueing anything.

It takes exactly what the dialer would send to ``/hooks/<source>`` (same auth, query, body)
and answers with the Dials payload and warnings, or the problems that would make the hook
answer 422, and the input keys no field used. The mapping side is ``relay.core.preview``,
shared with ``relay preview`` (whose ``--json`` prints this same document).
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response

from relay.core.preview import Preview, preview_request
from relay.exceptions import MappingError, UnsupportedMediaType
from relay.intake.answers import PREVIEW, PREVIEW_PROBLEMS, refusal
from relay.intake.endpoint import Incoming, authenticate, inbound
from relay.intake.runtime import RelayRuntime

__all__ = ["preview"]

log = structlog.get_logger("relay.intake.preview")


async def preview(request: Request) -> Response:
    """``POST|GET /preview/<source>``: authenticate like the hook, map, answer; never queue."""
    runtime: RelayRuntime = request.state.relay
    incoming = Incoming(request.scope)
    name = request.path_params["source"]
    source, body, failure = await authenticate(
        incoming, request.receive, runtime, name, "preview", request.scope
    )
    if failure is not None:
        return failure.response()
    assert source is not None
    try:
        outcome = preview_request(source, inbound(incoming, source, body, runtime))
    except UnsupportedMediaType as exc:
        return refusal(exc).response()
    except MappingError as exc:
        outcome = Preview(dial=None, errors=[p.as_dict() for p in exc.problems])
    log.info(
        "preview_mapped",
        source=source.name,
        client=incoming.client,
        ok=outcome.ok,
        warnings=len(outcome.warnings),
        unused_keys=len(outcome.unused),
    )
    return (PREVIEW if outcome.ok else PREVIEW_PROBLEMS).document(outcome.as_dict()).response()
