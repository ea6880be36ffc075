"""A Kinesis Data Firehose HTTP endpoint: one request, a batch of records, one durable commit.

For a source with ``auth: {type: firehose}``. AWS's specification ("HTTP endpoint delivery
request and response specifications",
https://docs.aws.amazon.com/firehose/latest/dev/httpdeliveryrequestresponse.html):

* the request: ``X-Amz-Firehose-Request-Id`` (the same on every retry of a batch),
  ``X-Amz-Firehose-Access-Key`` (checked by ``relay.config.auth.FirehoseAuth``), a JSON body
  ``{"requestId", "timestamp", "records": [{"data": <base64>}]}``, gzip-compressed when the
  stream's content encoding is GZIP (accepted for these sources only, inflated to
  ``RELAY_FIREHOSE_MAX_BYTES`` at most: past it, ``413``);
* the answer: Firehose counts **only a 200** as delivered, and reads an uncompressed JSON body
  ``{"requestId": <the request's>, "timestamp": <ms>}``, plus ``errorMessage`` on a failure
  (any other status: Firehose retries the batch with back-off, then writes it to its S3
  error output; ``413`` is never retried). ``as_firehose`` turns every answer of the hook
  into that shape.

Each record is one contact record: mapped on its own (``map_request``), ignored (another
channel, a contact not ended), or rejected (kept in the rejected store, without failing the
batch: a retry would not fix it). When several copies of one record arrive in a batch, the
mapping's ``record_key``/``record_version`` pick the latest. The dials of the batch are stored
with ``enqueue_many``: one durable commit before the 200; a retried batch is all duplicates
(dedupe by ``dial_id``, the ``ContactId``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson
import structlog

from relay.core.firehose import Item, gunzip, items_of, keep_latest, parse_delivery
from relay.core.mapping import InboundRequest
from relay.core.pipeline import FindingsHook, keep_rejected, map_request
from relay.core.sources import Source
from relay.exceptions import MappingError, Problem, QueueError, RequestError
from relay.intake import answers
from relay.intake.answers import Answer, refusal
from relay.intake.runtime import RelayRuntime
from relay.queue.base import NewDial

__all__ = ["REQUEST_ID_HEADER", "as_firehose", "handle_delivery"]

log = structlog.get_logger("relay.intake.firehose")

REQUEST_ID_HEADER = "x-amz-firehose-request-id"
_JSON = "application/json"


def as_firehose(answer: Answer, request_id: str) -> Answer:
    """``answer`` with the body Firehose reads: ``requestId``, ``timestamp`` (ms) and, unless
    it is a 200, ``errorMessage`` (the answer's error text)."""
    body: dict[str, object] = {"requestId": request_id, "timestamp": int(time.time() * 1000)}
    if answer.status != 200:
        try:
            given = orjson.loads(answer.body)
        except orjson.JSONDecodeError:  # every answer is JSON; this is only a guard
            given = None
        if not isinstance(given, dict):
            given = {}
        message = given.get("error") or given.get("status") or answer.status
        body["errorMessage"] = str(message)[:8192]
    return Answer(answer.status, answer.outcome, orjson.dumps(body), answer.extra)


def _raw_request(raw: bytes) -> InboundRequest:
    """A record as the rejected store keeps it: replayed, it is mapped as one record."""
    return InboundRequest("POST", _JSON, {}, raw, None)


@dataclass
class _Tally:
    stored: int = 0
    duplicate: int = 0
    ignored: int = 0
    rejected: int = 0


async def handle_delivery(
    runtime: RelayRuntime,
    source: Source,
    headers: dict[str, str],
    body: bytes,
    on_findings: FindingsHook,
    client: str,
) -> Answer:
    """The answer to one Firehose request (rendered by ``as_firehose`` afterwards)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    try:
        if encoding == "gzip":
            body = gunzip(body, runtime.settings.firehose_max_bytes)
        elif encoding not in ("", "identity"):
            return answers.UNSUPPORTED_MEDIA(exc=f"(Content-Encoding {encoding[:40]!r})")
        delivery = parse_delivery(body)
    except RequestError as exc:
        return refusal(exc)
    except MappingError as exc:
        return answers.BAD_DELIVERY(problem=str(exc))
    tally = _Tally(rejected=0)
    rejects: list[tuple[bytes, list[Problem]]] = [
        (r.raw, [Problem("record", r.problem)]) for r in delivery.records if r.problem
    ]
    items: list[Item] = items_of([r for r in delivery.records if not r.problem])
    key = getattr(source.mapping, "record_key", None)
    version = getattr(source.mapping, "record_version", None)
    if isinstance(key, str) and isinstance(version, str):
        before = len(items)
        items = keep_latest(items, key, version)
        tally.duplicate += before - len(items)
    received = time.time()
    forwarder = runtime.forwarder
    due_at = forwarder.hold_until(source.name) if forwarder is not None else None
    dials: list[NewDial] = []
    for obj, raw in items:
        request = InboundRequest("POST", _JSON, {}, raw, obj)
        try:
            mapped = map_request(source, request, on_findings=on_findings)
        except MappingError as exc:
            rejects.append((raw, exc.problems))
            continue
        if mapped.dial is None:  # ignored (a job is not a Firehose mapping's answer)
            tally.ignored += 1
            continue
        dial = mapped.dial
        dials.append(NewDial(source.name, dial.dial_id, dial.to_wire(), received, due_at=due_at))
    try:
        stored = await runtime.queue.enqueue_many(dials, runtime.settings.dedupe_window_seconds)
        # all in one turn of the loop: one group commit on SQLite, one pipeline on Redis
        await asyncio.gather(
            *(
                keep_rejected(runtime.queue, source.name, _raw_request(raw), problems)
                for raw, problems in rejects
            )
        )
    except QueueError as exc:
        log.error("queue_store_failed", source=source.name, error=str(exc))
        return answers.UNAVAILABLE()
    tally.stored = sum(stored)
    tally.duplicate += len(stored) - tally.stored
    tally.rejected = len(rejects)
    if rejects and runtime.retention is not None:
        runtime.retention.kept()
    if tally.stored and forwarder is not None:
        forwarder.queued()
    log.info(
        "firehose_delivery",
        source=source.name,
        request_id=delivery.request_id,
        records=len(delivery.records),
        stored=tally.stored,
        duplicate=tally.duplicate,
        ignored=tally.ignored,
        rejected=tally.rejected,
        client=client,
    )
    return answers.BATCH_STORED(
        stored=tally.stored,
        duplicate=tally.duplicate,
        ignored=tally.ignored,
        rejected=tally.rejected,
    )
