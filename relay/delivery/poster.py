"""One ``POST /dials``: a dial's wire JSON with its source's outboundIQ key, on the shared client.

``Poster.post`` never raises for what the network or outboundIQ did: it returns a
``PostResult`` with the status (``None`` when there was no answer: a timeout or a connection
error), the start of the body, the ``Retry-After`` header (of an answer that is not 2xx:
only a retry reads it) and a short error text. With
``rate_per_key`` > 0 the POSTs of one key are paced by a token bucket (callers wait their
turn); every POST is timed in ``relay_forward_latency_seconds``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from relay.core.tokens import TokenBucket
from relay.delivery.client import ForwardClient
from relay.delivery.holds import key_id
from relay.obs.metrics import RelayMetrics
from relay.queue.base import LeasedDial

__all__ = ["PostResult", "Poster"]

BODY_LIMIT = 4000  # characters of outboundIQ's answer kept (for the dead-letter store)


@dataclass(slots=True)
class PostResult:
    """What one POST got: ``status`` None means no answer (timeout, connection error);
    ``seconds``: how long it took (the rate limit's wait not included). Not frozen, as
    ``relay.queue.models.NewDial`` (one per POST)."""

    status: int | None
    body: str
    retry_after: str | None
    error: str
    seconds: float | None = field(default=None, compare=False)


class Poster:
    """Sends dials through ``client`` (``relay.delivery.client.create_client``)."""

    def __init__(
        self, client: ForwardClient, metrics: RelayMetrics, *, rate_per_key: float = 0.0
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.rate_per_key = rate_per_key
        self._buckets: dict[str, TokenBucket] = {}

    async def post(self, dial: LeasedDial, key: SecretStr) -> PostResult:
        """POST ``dial`` with ``key`` (after waiting for the key's rate limit, if any)."""
        if self.rate_per_key > 0:
            handle = key_id(key)
            bucket = self._buckets.get(handle)
            if bucket is None:
                bucket = self._buckets[handle] = TokenBucket(self.rate_per_key)
            await bucket.acquire()
        started = time.perf_counter()
        try:
            response, body = await self.client.send(
                "/dials",
                content=dial.payload,
                headers={"Authorization": f"Bearer {key.get_secret_value()}"},
            )
        except httpx.TimeoutException as exc:
            took = time.perf_counter() - started
            return PostResult(None, "", None, f"timeout ({type(exc).__name__})", took)
        except httpx.HTTPError as exc:
            took = time.perf_counter() - started
            return PostResult(None, "", None, f"connection error ({type(exc).__name__})", took)
        finally:
            self.metrics.forward_timed(time.perf_counter() - started)
        status = response.status_code
        # Retry-After matters only to a retry; reading it from httpx's Headers costs a few
        # microseconds (a KeyError when absent), so an accepted dial's answer skips it.
        retry_after = None if 200 <= status < 300 else response.headers.get("retry-after")
        return PostResult(
            status,
            _text(body),
            retry_after,
            f"http {status}",
            time.perf_counter() - started,
        )


def _text(body: bytes) -> str:
    """The start of an answer as text. outboundIQ answers JSON, which is UTF-8: decoded as
    such (``Response.text`` would first look for a charset in the headers, on every POST)."""
    return body[: BODY_LIMIT * 4].decode("utf-8", "replace")[:BODY_LIMIT]
