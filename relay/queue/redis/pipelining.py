"""Script calls grouped per event-loop turn: one pipeline, one round trip for all of them.

Intake runs one Lua script per webhook (``enqueue``). Sent one at a time, the webhooks that
arrive together cost one round trip each and hold one pooled connection each. Instead, the
calls made during one turn of the event loop wait in a list, and at the end of that turn
they go to Redis together, as one pipeline (``transaction=False``) on one connection: one
round trip. The SQLite queue groups its commits the same way (``relay.queue.sqlite.writer``).

Each call still gets its own answer: its script's reply, or its script's own error (a script
refused with ``OOM`` fails that call only). When the pipeline as a whole fails (the
connection broke, or no pooled connection came free within the pool timeout), every call in
it gets that error. Nothing is answered as stored unless Redis replied that it stored it:
Redis may have run some scripts of a failed pipeline, and a dialer that retries such a
webhook is answered ``200 duplicate`` (the dedupe marker was stored with the dial). One
pipeline's failure never touches another's calls. After a broken connection redis-py sends
the pipeline again once, as it does every command; an ``enqueue`` that had already run then
answers "duplicate" for its own dial, which is stored once.

The scripts go by their SHA (``EVALSHA``). After Redis lost its script cache (a restart),
the calls answered ``NOSCRIPT`` (they ran nothing) are sent again once the scripts are
loaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis import exceptions as rexc
from redis.asyncio import Redis

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

__all__ = ["BATCH_MAX", "TurnPipeline"]

BATCH_MAX = 1024  # calls in one pipeline at most

# One call: the script's name, its keys and arguments, and the future that gets its answer.
_Call = tuple[str, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class TurnPipeline:
    """``await call(script, keys, args)``: the script's reply, sent in this turn's pipeline."""

    def __init__(self, client: Redis, scripts: Mapping[str, AsyncScript]) -> None:
        self._client = client
        self._scripts = scripts
        self._pending: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run script ``name`` with the other calls of this loop turn; its reply.

        Redis errors are raised as redis-py raised them (``RedisConnection._op`` translates).
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            # The first call of this turn: send once every task ready now has run.
            loop.call_soon(self._flush)
        self._pending.append((name, keys, args, fut))
        if len(self._pending) >= BATCH_MAX:
            self._flush()
        # A cancelled caller does not stop its call: the pipeline is sent regardless.
        return await fut

    async def drain(self) -> None:
        """Send what waits and wait for every pipeline in flight (before the client closes)."""
        self._flush()
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    def _flush(self) -> None:
        calls, self._pending = self._pending, []
        if calls:
            task = asyncio.get_running_loop().create_task(self._send(calls))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, calls: list[_Call]) -> None:
        try:
            replies: list[Any] = await self._run(calls)
        except Exception as exc:  # the whole pipeline failed: every call in it fails
            replies = [exc] * len(calls)
        except asyncio.CancelledError:
            for *_, fut in calls:
                fut.cancel()
            raise
        for (*_, fut), reply in zip(calls, replies, strict=True):
            if fut.done():  # its caller was cancelled
                continue
            if isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)

    async def _run(self, calls: list[_Call]) -> list[Any]:
        replies = await self._pipeline(calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, rexc.NoScriptError)]
        if missing:  # Redis lost its script cache: load the scripts, send those calls again
            for name in sorted({calls[i][0] for i in missing}):
                await self._client.script_load(self._scripts[name].script)
            again = await self._pipeline([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for name, keys, args, _fut in calls:
            pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))
