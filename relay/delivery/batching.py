"""Acks in batches: many deliveries finishing together cost one queue operation, not many.

``AckBatcher.ack(id)`` returns once the ack is committed, exactly like ``queue.ack([id])``;
acks that arrive while one flush is being committed wait and go together in the next one
(group commit on the event-loop side). A failed flush raises the same ``QueueError`` in
every caller that joined it. Each caller waits on a future of its own, which the flush
answers: a caller cancelled meanwhile cancels only its own wait, never the flush (cheaper
than every caller shielding one shared future: ``asyncio.shield`` adds a future and two
callbacks per caller, and a loop turn to pass the answer on).
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
        self._waiters: list[asyncio.Future[None]] = []  # the pending acks' callers
        self._flusher: asyncio.Task[None] | None = None

    async def ack(self, queue_id: str, attempt: Attempt | None = None) -> None:
        """Ack ``queue_id`` (delivered by ``attempt``, for its history); returns when it is
        committed (raises what the queue raised)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._pending.append(queue_id)
        if attempt is not None:
            self._attempts[queue_id] = attempt
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="ack-batcher")
        await waiter

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # deliveries finishing in this same turn join the batch
            while self._pending:
                ids, self._pending = self._pending, []
                attempts, self._attempts = self._attempts, {}
                waiters, self._waiters = self._waiters, []  # later acks: the next round
                try:
                    await self.queue.ack(ids, attempts=attempts)
                except asyncio.CancelledError:
                    for waiter in waiters:
                        waiter.cancel()
                    raise
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():  # its caller may have been cancelled
                            waiter.set_exception(exc)
                            waiter.exception()  # marked seen: a caller cancelled now is quiet
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._flusher = None
