"""Intake: ``POST|GET /hooks/<source>``. Authenticate, map, store durably, then answer.

Answers: 202 queued (only after the queue commit is durable), 200 duplicate, 202 coalesced
(a later leg of a call, merged into the dial held for the source's ``coalesce_seconds``), 200
ignored (an event the mapping acknowledges without storing, e.g. a Genesys call start), 404
unknown source, 403 client address not allowed, 429 over the source's rate limit, 401 failed
auth, 408 body not received in time, 413 body too large, 415 other content types or encodings,
422 mapping problems (the raw request is kept in the rejected store), 431 too many or too large
headers, 500 a relay bug (logged, counted), 503 when the queue cannot store: each a row of
``relay.intake.answers``. The request head timeout is enforced before this
(relay.intake.server).

This is the relay's hot path, so the hook is a plain ASGI endpoint (``HookEndpoint``) that
``RelayApp`` calls before Starlette's middleware and router: it reads the ASGI scope and
sends its answer itself, with no ``Request``/``Response`` objects on the way
(docs/benchmarks.md has the numbers). Everything else the relay serves goes through Starlette.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qsl

import structlog
from starlette.types import Receive, Scope, Send

from relay.config.auth import FirehoseAuth, RequestURL
from relay.config.network import client_address, in_networks, peer_is_trusted
from relay.core.mapping import InboundRequest
from relay.core.pipeline import (
    FindingsHook,
    Mapped,
    keep_rejected,
    map_request,
    parse_request,
    store_mapped,
)
from relay.core.screening import Finding
from relay.core.sources import Source
from relay.exceptions import (
    AuthError,
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    MappingError,
    QueueError,
    RequestError,
    UnsupportedMediaType,
)
from relay.intake import answers
from relay.intake.answers import Answer, rate_limited, refusal
from relay.intake.deadlines import body_deadlines
from relay.intake.events import NO_SOURCE, webhook_event
from relay.intake.firehose import REQUEST_ID_HEADER, as_firehose, handle_delivery
from relay.intake.guard import COUNTED, header_problem
from relay.intake.runtime import RelayRuntime
from relay.obs.logs import info_line

__all__ = ["HookEndpoint", "Incoming", "authenticate", "read_body"]

log = structlog.get_logger("relay.intake.endpoint")


class Incoming:
    """A request as the intake reads it, straight from the ASGI scope.

    ``headers`` has the lower-case names ASGI servers give (a repeated header: its last value).
    """

    __slots__ = (
        "_query",
        "client",
        "headers",
        "mapped",
        "method",
        "peer",
        "query_string",
        "raw_headers",
    )

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        self.raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.raw_headers}
        self.query_string: str = scope.get("query_string", b"").decode("latin-1")
        peer = scope.get("client")
        self.peer: str | None = peer[0] if peer else None
        self.client = "unknown"
        self.mapped: Mapped | None = None  # what the request was mapped to (the live feed's)
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (a repeated one: its last value)."""
        if self._query is None:
            qs = self.query_string
            self._query = dict(parse_qsl(qs, keep_blank_values=True)) if qs else {}
        return self._query

    def forwarded_for(self) -> list[str]:
        return [v.decode("latin-1") for k, v in self.raw_headers if k == b"x-forwarded-for"]

    def url(self, scope: Scope, name: str, trusted: bool) -> RequestURL:
        """The URL the sender addressed: the hook's (``/hooks/<name>``, also for a preview of
        it), with the raw query; a trusted proxy's ``X-Forwarded-Host``/``-Proto`` (their
        first entries) alongside."""
        server = scope.get("server")
        host = self.headers.get("host") or (f"{server[0]}:{server[1]}" if server else "")

        def forwarded(header: str) -> str | None:
            value = self.headers.get(header, "").split(",", 1)[0].strip() if trusted else ""
            return value or None

        return RequestURL(
            scheme=str(scope.get("scheme", "http")),
            host=host,
            path=f"{scope.get('root_path', '')}/hooks/{name}",
            query=self.query_string,
            forwarded_host=forwarded("x-forwarded-host"),
            forwarded_proto=forwarded("x-forwarded-proto"),
        )


async def read_body(
    receive: Receive, declared: str | None, limit: int, within: float | None = None
) -> bytes:
    """The request body, refusing (``BodyTooLarge``) past ``limit`` bytes without buffering it.

    ``BodyTimeout`` when the whole body has not arrived ``within`` seconds (a slow client must
    not hold the request open); ``ClientGone`` when the client disconnected first.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    task = asyncio.current_task() if within is not None else None
    if task is not None:
        assert within is not None
        body_deadlines.arm(task, within)  # one timer for every read in flight (deadlines)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        if task is not None and body_deadlines.disarm(task) and task.uncancel() == 0:
            raise BodyTimeout from None
        raise
    finally:
        if task is not None:
            body_deadlines.disarm(task)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _admit(incoming: Incoming, runtime: RelayRuntime, source: Source, kind: str) -> Answer | None:
    """Who the client is (``incoming.client``), and the refusal when its address or rate is
    not ok."""
    trusted = runtime.settings.trusted_proxies
    allowed = source.config.allow_ips
    if allowed is None and not trusted:  # the common case: nothing to parse
        incoming.client = incoming.peer or "unknown"
    else:
        address = client_address(incoming.peer, incoming.forwarded_for(), trusted)
        incoming.client = str(address or "unknown")
        if allowed is not None and not in_networks(address, allowed):
            log.warning(
                "webhook_forbidden_ip", source=source.name, client=incoming.client, kind=kind
            )
            return answers.FORBIDDEN_IP()
    if source.config.rate_limit is not None:
        wait = runtime.limiter.acquire(source.name, source.config.rate_limit)
        if wait is not None:
            return rate_limited(wait)
    return None


async def authenticate(
    incoming: Incoming,
    receive: Receive,
    runtime: RelayRuntime,
    name: str,
    kind: str,
    scope: Scope | None = None,
) -> tuple[Source | None, bytes, Answer | None]:
    """Find the source, read the body and check auth; on failure, the answer to send.

    ``scope`` (the ASGI scope) gives a scheme that signs the URL (Twilio) the URL as seen.
    A set-up handshake (``auth.handshake``: RingCentral's ``Validation-Token``) is answered
    here, before the credential is checked.

    The body returned has the source's secret removed (a ``query`` secret may travel in a
    form body: a Five9 POST constant; a ``body-token`` is a JSON field: Aircall); nothing
    after this sees it."""
    source = runtime.sources.get(name)
    if source is None:
        return None, b"", answers.UNKNOWN_SOURCE(name=name)
    settings = runtime.settings
    refused = _admit(incoming, runtime, source, kind)
    if refused is not None:
        return source, b"", refused
    firehose = isinstance(source.config.auth, FirehoseAuth)
    try:
        body = await read_body(
            receive,
            incoming.headers.get("content-length"),
            settings.firehose_max_bytes if firehose else settings.max_body_bytes,
            settings.body_timeout_seconds,
        )
    except RequestError as exc:  # too large, too slow, or gone
        return source, b"", refusal(exc)
    echo = source.config.auth.handshake(incoming.headers, body)
    if echo is not None:  # a subscription's set-up request: answered, never stored
        return source, b"", answers.VALIDATED((b"validation-token", echo.encode()))
    auth = source.config.auth
    url = None
    if auth.needs_url and scope is not None:
        trusted = peer_is_trusted(incoming.peer, settings.trusted_proxies)
        url = incoming.url(scope, name, trusted)
    try:
        auth.verify(headers=incoming.headers, query=incoming.query, body=body, url=url)
    except AuthError as exc:
        runtime.metrics.auth_failures.labels(name).inc()
        log.warning("webhook_unauthorized", source=name, client=incoming.client, kind=kind)
        return source, body, refusal(exc)
    if source.config.auth.secret_in_body:
        _, body = source.without_secret({}, incoming.headers.get("content-type"), body)
    return source, body, None


def mapping_query(incoming: Incoming, source: Source) -> dict[str, str]:
    """The query parameters a mapping sees: never the source's query secret, and none at all
    when the source's auth signs the body alone (the query is not signed)."""
    if not source.config.auth.query_is_mapped:
        return {}
    query = incoming.query
    secret_param = source.secret_query_param
    if secret_param and secret_param in query:
        return {k: v for k, v in query.items() if k != secret_param}
    return query


def inbound(
    incoming: Incoming, source: Source, body: bytes, runtime: RelayRuntime
) -> InboundRequest:
    """Parse the request; the source's query secret never reaches the mapping or the store."""
    encoding = incoming.headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType(f"(Content-Encoding {encoding.strip().lower()[:40]!r})")
    return parse_request(
        incoming.method,
        incoming.headers.get("content-type", ""),
        mapping_query(incoming, source),
        body,
        max_depth=runtime.settings.max_json_depth,
        decode=source.body_decoder,
    )


class HookEndpoint:
    """``/hooks/<source>`` as a plain ASGI endpoint: ``await endpoint(scope, receive, send,
    name)``, or as a Starlette route's app (the name from the path parameters). Every answer
    is counted in ``relay_webhooks_total`` and logged once (``webhook_received``, the
    canonical line; ``duration_ms`` is the time to decide it), a crash included, and then
    sent; the time to the answer sent is ``relay_intake_latency_seconds``. A webhook that
    passes its source's authentication sets the source's last-webhook time."""

    def __init__(self, runtime: RelayRuntime) -> None:
        self._runtime = runtime
        # a concrete logger: binding the module's lazy proxy on every call is measurable here
        self._log = log.bind()

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, name: str | None = None
    ) -> None:
        if name is None:
            name = str(scope["path_params"]["source"])
        runtime = self._runtime
        started = time.perf_counter()
        incoming = Incoming(scope)
        dial_id: str | None = None
        try:
            problem = header_problem(incoming.raw_headers, runtime.settings)
            if problem is not None:
                answer = answers.HEADERS_TOO_LARGE(problem=problem)
            else:
                answer, dial_id = await _handle(incoming, scope, receive, runtime, name)
        except Exception:
            self._log.exception("webhook_failed", source=name, client=incoming.client)
            answer = answers.INTERNAL_ERROR()
        firehose = runtime.sources.get(name)
        if firehose is not None and isinstance(firehose.config.auth, FirehoseAuth):
            answer = as_firehose(answer, incoming.headers.get(REQUEST_ID_HEADER, ""))
        outcome = answer.outcome or "error"  # every answer of the hook's has its own
        scope[COUNTED] = True
        known = name if name in runtime.sources else NO_SOURCE
        runtime.metrics.webhook_outcome(known, outcome)
        runtime.tally.count(known, outcome)
        events = runtime.events
        if events.active:  # the live feed: nothing is built while nobody takes it
            mapped = incoming.mapped
            events.publish_lazily(
                outcome, known, lambda: webhook_event(known, answer, dial_id, mapped)
            )
        info_line(
            self._log,
            "webhook_received",
            {
                "source": name,
                "method": incoming.method,
                "status": answer.status,
                "outcome": outcome,
                "dial_id": dial_id,
                "client": incoming.client,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        await answer.send(send)
        runtime.metrics.intake_answered(answer.status, time.perf_counter() - started)


async def _handle(
    incoming: Incoming, scope: Scope, receive: Receive, runtime: RelayRuntime, name: str
) -> tuple[Answer, str | None]:
    """The answer to a webhook, and the dial_id it stored or found stored."""
    source, body, failure = await authenticate(incoming, receive, runtime, name, "hook", scope)
    if failure is not None:
        return failure, None
    assert source is not None
    runtime.metrics.source_seen(source.name)  # authenticated: the dialer is alive
    runtime.tally.webhook(source.name)
    if isinstance(source.config.auth, FirehoseAuth):  # a batch of records, Firehose's protocol
        on_findings = _counter(runtime, source.name)
        answer = await handle_delivery(
            runtime, source, incoming.headers, body, on_findings, incoming.client
        )
        return answer, None
    try:
        parsed = inbound(incoming, source, body, runtime)
    except UnsupportedMediaType as exc:
        return refusal(exc), None
    except MappingError as exc:
        raw = InboundRequest(
            method=incoming.method,
            content_type=incoming.headers.get("content-type", ""),
            query=mapping_query(incoming, source),
            body=body,
            data=None,
        )
        return await _rejected(runtime, source, raw, exc, incoming.client), None
    try:
        mapped = map_request(source, parsed, on_findings=_counter(runtime, source.name))
    except MappingError as exc:
        return await _rejected(runtime, source, parsed, exc, incoming.client), None
    incoming.mapped = mapped
    if mapped.ignored is not None:
        return answers.IGNORED(reason=mapped.ignored), None
    forwarder = runtime.forwarder
    try:
        stored, key = await store_mapped(
            runtime.queue,
            source,
            mapped,
            dedupe_seconds=runtime.settings.dedupe_window_seconds,
            due_at=forwarder.hold_until(source.name) if forwarder else None,
        )
    except QueueError as exc:
        log.error("queue_store_failed", source=source.name, error=str(exc))
        return answers.UNAVAILABLE(), None
    if stored == "duplicate":
        return answers.DUPLICATE(dial_id=key), key
    if stored == "coalesced":  # the held dial is due later: nothing for the forwarder now
        return answers.COALESCED(dial_id=key), key
    if forwarder is not None:
        forwarder.queued()
    return answers.QUEUED(dial_id=key), key


def _counter(runtime: RelayRuntime, source: str) -> FindingsHook:
    """Counts a webhook's findings (placeholders emptied, unknown values) by source and field."""

    def count(findings: list[Finding]) -> None:
        for finding in findings:
            runtime.metrics.vendor_value(source, finding.kind, finding.field)

    return count


async def _rejected(
    runtime: RelayRuntime,
    source: Source,
    request: InboundRequest,
    exc: MappingError,
    client: str,
) -> Answer:
    errors = [p.as_dict() for p in exc.problems]
    try:
        rejected_id: str | None = await keep_rejected(
            runtime.queue, source.name, request, exc.problems
        )
    except QueueError as err:
        log.error("rejected_store_failed", source=source.name, error=str(err))
        return answers.UNAVAILABLE_REJECTING()
    if runtime.retention is not None:
        runtime.retention.kept()  # the store's limits, applied in the background
    log.warning(
        "webhook_rejected",
        source=source.name,
        rejected_id=rejected_id,
        fields=[p.field for p in exc.problems],
        client=client,
    )
    # a mapping may want a 2xx for what it keeps (Aircall disables a webhook after non-2xx)
    kept = getattr(source.mapping, "rejected_status", 422) == 200
    return (answers.REJECTED_KEPT if kept else answers.REJECTED)(
        rejected_id=rejected_id, errors=errors
    )
