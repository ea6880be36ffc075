"""Script calls grouped: one pipeline, one round trip for every call that waits.

Intake runs one Lua script per webhook (``enqueue``). Sent one at a time, the webhooks that
arrive together cost one round trip each and hold one pooled connection each. Instead, the
calls wait in a list and go to Redis together, as one pipeline (``transaction=False``) on one
connection: one round trip (a group commit, like the SQLite queue's writer,
``relay.queue.sqlite.writer``). When to send: at the end of the event-loop turn the first
call was made in, unless ``IN_FLIGHT`` pipelines are already on their way; then the calls
keep collecting until one of those is answered, and all of them go in the next pipeline. Under
load that makes the pipelines as large as the webhooks that arrive during a round trip (and
the relay's share of a round trip, packing and reading, is paid once per pipeline); when
the relay is idle a call still goes at the end of its own turn.

The ``enqueue`` calls of one pipeline go as one call of ``enqueue_each`` (``BATCHED``): one
script call for all of them (Redis sets up one script run, not one per webhook), each dial
stored on its own inside it (a dial that fails, ``pcall``, does not stop the others). The
relay packs the commands itself (``pack``: redis-py's packer costs more than the rest of
the round trip) and reads the replies in order.

Each call still gets its own answer: its script's reply, or its own error (a dial refused
with ``OOM`` or ``WRONGTYPE`` fails that call only). When the pipeline as a whole fails (the
connection broke, or no pooled connection came free within the pool timeout), every call in
it gets that error (so does every call of a batch script that Redis refused as a
whole). Nothing is answered as stored unless Redis replied that it stored it:
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis import exceptions as rexc
from redis.asyncio import Redis

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection
    from redis.commands.core import AsyncScript

__all__ = ["BATCHED", "BATCH_MAX", "IN_FLIGHT", "TurnPipeline", "pack"]

BATCH_MAX = 1024  # calls in one pipeline at most
IN_FLIGHT = 1  # pipelines on their way at once; later calls wait for the next one

# Scripts whose calls of one pipeline go as one call of a batch script, one answer per call.
BATCHED = {"enqueue": "enqueue_each"}


# One call: the script's name, its keys and arguments, and the future that gets its answer.
_Call = tuple[str, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


@dataclass(slots=True)
class _Command:
    """One ``EVALSHA``: the script's SHA, keys and arguments, and the calls it answers (a
    ``batch`` script's reply is a list, one answer per call)."""

    sha: str
    keys: list[Any]
    args: list[Any]
    calls: list[int]
    batch: bool = False


class TurnPipeline:
    """``await call(script, keys, args)``: the script's reply, sent in the next pipeline."""

    def __init__(self, client: Redis, scripts: Mapping[str, AsyncScript]) -> None:
        self._client = client
        self._scripts = scripts
        self._pending: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, name: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run script ``name`` with the other calls that wait for the next pipeline; its reply.

        Redis errors are raised as redis-py raised them (``RedisConnection._op`` translates).
        """
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self._pending and len(self._sending) < IN_FLIGHT:
            # The first call to wait: send once every task ready now has run (unless a
            # pipeline in flight is answered first: then it goes with that one's successor).
            loop.call_soon(self._flush_if_free)
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

    def _flush_if_free(self) -> None:
        if len(self._sending) < IN_FLIGHT:
            self._flush()

    def _flush(self) -> None:
        calls, self._pending = self._pending, []
        if calls:
            task = asyncio.get_running_loop().create_task(self._send(calls))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        """A pipeline was answered: what waited meanwhile goes now, in one pipeline."""
        self._sending.discard(task)
        if self._pending and len(self._sending) < IN_FLIGHT:
            self._flush()

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
            names = {calls[i][0] for i in missing}
            for name in sorted(names | {BATCHED[n] for n in names if n in BATCHED}):
                await self._client.script_load(self._scripts[name].script)
            again = await self._pipeline([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    def _commands(self, calls: list[_Call]) -> list[_Command]:
        """The ``EVALSHA`` commands for ``calls``: the calls of a script in ``BATCHED`` go in
        one command of its batch script (their dedupe markers after the shared key base,
        their arguments one after the other), the others one command each."""
        commands: list[_Command] = []
        batches: dict[str, _Command] = {}
        for i, (name, keys, args, _fut) in enumerate(calls):
            batch = BATCHED.get(name)
            if batch is None:
                commands.append(_Command(self._scripts[name].sha, list(keys), list(args), [i]))
                continue
            command = batches.get(batch)
            if command is None:
                command = _Command(self._scripts[batch].sha, list(keys), list(args), [i], True)
                batches[batch] = command
                commands.append(command)
            else:
                command.keys.extend(keys[1:])
                command.args.extend(args)
                command.calls.append(i)
        return commands

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        """One round trip: the calls' ``EVALSHA`` commands packed here (``pack``) and written
        in one go on one pooled connection, then their replies read in order (a reply that is
        an error stays that call's; a batch script's reply is a list with one answer per
        call, or its one error for all of them). A broken connection: reconnected and sent
        again once, as redis-py's own pipelines are (``Connection.retry``)."""
        commands = self._commands(calls)
        data = pack([(c.sha, c.keys, c.args) for c in commands])
        pool = self._client.connection_pool
        conn: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            replies: list[Any] = await conn.retry.call_with_retry(
                lambda: _exchange(conn, data, len(commands)), lambda _error: conn.disconnect()
            )
        except BaseException:
            # replies may still be on their way: this connection must not be used again as is
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)
        out: list[Any] = [None] * len(calls)
        for command, reply in zip(commands, replies, strict=True):
            if command.batch and isinstance(reply, list):
                for i, each in zip(command.calls, reply, strict=True):
                    out[i] = each
            else:  # one call's reply, or a batch script's error: each of its calls'
                for i in command.calls:
                    out[i] = reply
        return out


async def _exchange(conn: AbstractConnection, data: bytes, count: int) -> list[Any]:
    await conn.send_packed_command(data)
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(await conn.read_response())
        except rexc.ResponseError as exc:  # this script's own error: the others stand
            replies.append(exc)
    return replies


_EVALSHA = b"$7\r\nEVALSHA\r\n"


def pack(calls: Sequence[tuple[str, Sequence[Any], Sequence[Any]]]) -> bytes:
    """``EVALSHA sha numkeys keys... args...`` for each call, in Redis's protocol (RESP), as
    redis-py packs them (``str`` UTF-8, ``int``/``float`` as ``repr``), without its per
    argument overhead: the intake's hot path packs one per webhook."""
    out: list[bytes] = []
    append = out.append
    for sha, keys, args in calls:
        append(b"*%d\r\n%b$40\r\n%b\r\n" % (len(keys) + len(args) + 3, _EVALSHA, sha.encode()))
        count = str(len(keys)).encode()
        append(b"$%d\r\n%b\r\n" % (len(count), count))
        for value in (*keys, *args):
            if isinstance(value, str):
                value = value.encode()
            elif not isinstance(value, bytes):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise TypeError(f"cannot send {type(value).__name__} to Redis")
                value = repr(value).encode()
            append(b"$%d\r\n%b\r\n" % (len(value), value))
    return b"".join(out)
