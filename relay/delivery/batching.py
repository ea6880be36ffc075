"""Acks in batches: many deliveries finishing together cost one queue operation, not many.

``AckBatcher.ack(id)`` returns once the ack is committed, exactly like ``queue.ack([id])``;
acks that arrive while one flush is being committed wait and go together in the next one
(group commit on the event-loop side). A failed flush raises the same ``QueueError`` in
every caller that joined it.
"""

from __future__ import annotations

import asyncio

from relay.queue.base import Attempt, DeliveryQueue

__all__ = ["AckBatcher"]


class AckBatcher:
    """Collects queue ids to ack and flushes them with one ``queue.ack`` per round."""

    def __init__(self, queue: DeliveryQueue) -> None:
        self.queue = queue
        self._pending: list[str] = []
        self._attempts: dict[str, Attempt] = {}
        self._next: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None

    async def ack(self, queue_id: str, attempt: Attempt | None = None) -> None:
        """Ack ``queue_id`` (delivered by ``attempt``, for its history); returns when it is
        committed (raises what the queue raised)."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            self._next.add_done_callback(_retrieve)
        done = self._next
        self._pending.append(queue_id)
        if attempt is not None:
            self._attempts[queue_id] = attempt
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="ack-batcher")
        await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # deliveries finishing in this same turn join the batch
            while self._pending:
                ids, self._pending = self._pending, []
                attempts, self._attempts = self._attempts, {}
                done, self._next = self._next, None  # later acks start the next round
                assert done is not None
                try:
                    await self.queue.ack(ids, attempts=attempts)
                except asyncio.CancelledError:
                    done.cancel()
                    raise
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    done.set_result(None)
        finally:
            self._flusher = None


def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()  # every waiter may have been cancelled: no "never retrieved" noise
