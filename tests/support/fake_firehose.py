"""A Kinesis Data Firehose HTTP endpoint destination, as far as the relay can tell.

It speaks AWS's delivery protocol ("HTTP endpoint delivery request and response
specifications"): a POST with ``X-Amz-Firehose-Protocol-Version``, ``-Request-Id``,
``-Source-Arn`` and ``-Access-Key``, a JSON envelope of base64 records, gzip when the stream's
content encoding is GZIP; and, like Firehose, it counts only a 200 whose JSON body echoes the
request id (and carries an integer timestamp) as delivered, and sends the same batch (same
request id) again otherwise, up to ``attempts`` times.
"""

from __future__ import annotations

import base64
import gzip
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

__all__ = ["Attempt", "FakeFirehose", "record_data"]

STREAM_ARN = "arn:aws:firehose:us-east-1:123456789012:deliverystream/connect-ctr"


def record_data(record: Any) -> str:
    """A record as Firehose carries it: base64 of its bytes (a dict: its JSON)."""
    raw = record if isinstance(record, bytes) else orjson.dumps(record)
    return base64.b64encode(raw).decode()


@dataclass
class Attempt:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def delivered(self) -> bool:
        """What Firehose counts as delivered: 200, JSON, the request id echoed."""
        return self.status == 200 and isinstance(self.body, dict)


@dataclass
class FakeFirehose:
    url: str
    access_key: str | None
    gzip: bool = False
    attempts: list[Attempt] = field(default_factory=list)

    def envelope(self, records: list[Any], request_id: str) -> bytes:
        body = {
            "requestId": request_id,
            "timestamp": int(time.time() * 1000),
            "records": [{"data": record_data(r)} for r in records],
        }
        return orjson.dumps(body)

    def post(self, body: bytes, request_id: str, *, extra: dict[str, str] | None = None) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Firehose-Protocol-Version": "1.0",
            "X-Amz-Firehose-Request-Id": request_id,
            "X-Amz-Firehose-Source-Arn": STREAM_ARN,
            "User-Agent": "Amazon Kinesis Data Firehose Agent/1.0",
        }
        if self.access_key is not None:
            headers["X-Amz-Firehose-Access-Key"] = self.access_key
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body)
        headers.update(extra or {})
        reply = httpx.post(self.url, content=body, headers=headers, timeout=30)
        assert reply.headers["content-type"] == "application/json"
        assert "content-encoding" not in reply.headers  # Firehose reads it uncompressed
        parsed = reply.json()
        assert parsed["requestId"] == request_id
        assert isinstance(parsed["timestamp"], int)
        attempt = Attempt(reply.status_code, parsed, dict(reply.headers))
        self.attempts.append(attempt)
        return attempt

    def deliver(self, records: list[Any], *, attempts: int = 3, request_id: str = "") -> Attempt:
        """Send a batch, and again (the same request id) until it is delivered; the last try."""
        request_id = request_id or str(uuid.uuid4())
        body = self.envelope(records, request_id)
        last = self.post(body, request_id)
        for _ in range(attempts - 1):
            if last.delivered:
                break
            last = self.post(body, request_id)
        return last
