"""The Dead letters page: dials outboundIQ refused for good, grouped by its answer, replayed
or purged.

A dead letter's reason is outboundIQ's status and the relay's reason (``http_400 (HTTP
400)``, ``max_age_exceeded``). Shown: the payload with phones masked
(``relay.obs.events.masked_payload``) and outboundIQ's answer with every configured secret
hidden and phones masked (as ``relay dlq show``). Replay is ``relay dlq replay``'s
(``DeadLetterStore.replay_dead``: back in the live lane, due now; the worker is woken).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from relay.console.rejected import SUMMARY_CHARS
from relay.console.stores import SCAN_LIMIT, Outcome, Row, Store
from relay.obs.events import masked_payload
from relay.obs.logs import redact_answer, redact_secrets
from relay.queue.base import DeadDial

__all__ = ["DeadPage", "reason_of"]


def reason_of(dead: DeadDial) -> str:
    """The dead letter's group key: the relay's reason and outboundIQ's status, if any."""
    return f"{dead.reason} (HTTP {dead.status})" if dead.status is not None else dead.reason


def _pretty(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def _summary(payload: Any) -> str:
    text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


class DeadPage(Store):
    path = "/dead"
    name = "dead"
    title = "Dead letters"
    noun = "dead letter"
    nouns = "dead letters"
    view_template = "dead_one.html"

    @staticmethod
    def _row(dead: DeadDial, secrets: list[str]) -> Row:
        return Row(
            id=dead.id,
            source=dead.source,
            received_at=dead.received_at,
            reasons=(reason_of(dead),),
            summary=redact_secrets(_summary(masked_payload(dead.payload)), secrets),
            dial_id=dead.dial_id,
            status=dead.status,
            at=dead.dead_at,
        )

    async def scan(self, source: str | None) -> list[Row]:
        found = await self.console.runtime.queue.list_dead(
            source=source, limit=SCAN_LIMIT, newest_first=True
        )
        secrets = self.secrets()
        return [self._row(d, secrets) for d in found]

    async def _found(self, ids: Sequence[str]) -> list[DeadDial]:
        queue = self.console.runtime.queue
        return [d for d in [await queue.get_dead(i) for i in ids] if d is not None]

    async def rows_of(self, ids: Sequence[str]) -> list[Row]:
        secrets = self.secrets()
        return [self._row(d, secrets) for d in await self._found(ids)]

    async def view(self, record_id: str) -> dict[str, Any] | None:
        dead = await self.console.runtime.queue.get_dead(record_id)
        if dead is None:
            return None
        secrets = self.secrets()
        return {
            "record": dead,
            "reason": reason_of(dead),
            "answer": redact_answer(dead.response_body, secrets),
            "payload": redact_secrets(_pretty(masked_payload(dead.payload)), secrets),
        }

    async def replay(self, ids: Sequence[str]) -> Outcome:
        runtime = self.console.runtime
        there = {d.id for d in await self._found(ids)}
        requeued = await runtime.queue.replay_dead([i for i in ids if i in there], now=time.time())
        if requeued and runtime.forwarder is not None:
            runtime.forwarder.queued()
        return Outcome(
            action="replay",
            headline=f"Re-queued {self.counted(requeued)}, due now.",
            counts={"requeued": requeued},
            missing=[i for i in ids if i not in there],
        )

    async def purge(self, ids: Sequence[str]) -> int:
        return await self.console.runtime.queue.purge_dead(ids)
