"""Leasing on Redis Streams: the consumer group hands each entry to one replica.

A lease, in order: due retries move from the delayed set back to their lane (``promote``);
leases idle for the visibility timeout (their replica died) are taken over with
``XAUTOCLAIM`` (a sweep at most once a second, ``claim``); new entries are read with
``XREADGROUP``, live lane first, blocking briefly when there is nothing to do (``mark``
leases them); a lease with a source filter or a horizon past ``now`` (a probe) takes dials
straight from the delayed set through the direct stream (``take``). An entry handed out more
than ``max_deliveries`` times without an outcome (``XPENDING`` delivery count) is
dead-lettered as poison (log event ``dial_poisoned``; the listeners given to ``on_poison`` are
told: the forwarder counts it as a dead letter).

Time: due times use the caller's clock, like SQLite. Lease expiry is Redis's own idle time
of the pending entry, so a lease expires after ``visibility`` real seconds whatever ``now``
the caller passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import structlog
from redis import exceptions as rexc
from redis.asyncio import Redis

from relay.queue.models import LeasedDial, PoisonedDial
from relay.queue.redis.connection import RedisConnection, as_text, lost_group
from relay.queue.redis.scripts import GROUP

if TYPE_CHECKING:
    from relay.queue.protocols import ReportsPoison

__all__ = ["RedisLeasing"]

log = structlog.get_logger("relay.queue.redis")

_PROMOTE_BATCH = 1000
_PRUNE_EVERY = 600.0  # seconds between sweeps of consumers that left
_PRUNE_IDLE_MS = 3_600_000  # a consumer idle this long with nothing pending is removed
_Row = tuple[tuple[int, float, int], LeasedDial]  # (lane, due, id) to sort by, and the dial


class RedisLeasing(RedisConnection):
    """``lease``: new entries, leases taken over, due retries, and probes ahead of time."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        prefix: str = "relay",
        consumer: str | None = None,
        max_deliveries: int = 5,
        block_seconds: float = 0.5,
        max_connections: int = 50,
        pool_timeout: float = 5.0,
        history: bool = True,
    ) -> None:
        super().__init__(
            url,
            password=password,
            prefix=prefix,
            consumer=consumer,
            max_connections=max_connections,
            pool_timeout=pool_timeout,
            history=history,
        )
        self.max_deliveries = max_deliveries
        self.block_seconds = block_seconds
        self._server_checked = False
        self._cursors: dict[str, Any] = {}
        self._next_reclaim = 0.0
        self._next_prune = 0.0
        self._poison_listeners: list[Callable[[PoisonedDial], None]] = []
        self._visibility = 60.0

    async def lease(
        self,
        limit: int,
        visibility: float,
        *,
        now: float,
        exclude_sources: Collection[str] = (),
        only_sources: Collection[str] | None = None,
        horizon: float | None = None,
    ) -> list[LeasedDial]:
        if limit <= 0 or (only_sources is not None and not only_sources):
            return []
        self._visibility = visibility
        if not self._server_checked:  # a replica's first lease; operator commands never lease
            await self._op(self._check_server)
            self._server_checked = True
        if only_sources is not None:
            until = now if horizon is None else max(now, horizon)
            rows = await self._op(lambda _c: self._take(limit, until, now, "o", only_sources))
            return [d for _, d in sorted(rows, key=lambda r: r[0])]

        async def run(client: Redis) -> list[_Row]:
            mode = "x" if exclude_sources else ""
            next_delayed = await self._promote(now)
            got = await self._reclaim(limit, visibility, now, mode, exclude_sources)
            block = self._block_ms(next_delayed, now) if horizon is None and not got else 0
            got += await self._read(client, limit - len(got), now, mode, exclude_sources, block)
            if len(got) < limit and horizon is not None and horizon > now:
                got += await self._take(limit - len(got), horizon, now, mode, exclude_sources)
            return got

        return [d for _, d in sorted(await self._op(run), key=lambda r: r[0])]

    async def _promote(self, now: float) -> float | None:
        _moved, nxt = await self._script("promote", repr(now), _PROMOTE_BATCH)
        return float(nxt) if nxt else None

    def _block_ms(self, next_delayed: float | None, now: float) -> int:
        wait = self.block_seconds
        if next_delayed is not None:
            wait = min(wait, next_delayed - now)
        return int(wait * 1000) if wait >= 0.01 else 0

    async def _reclaim(
        self, limit: int, visibility: float, now: float, mode: str, sources: Collection[str]
    ) -> list[_Row]:
        """Take over leases idle for ``visibility`` (their replica died); a sweep per second."""
        clock = time.monotonic()
        if clock < self._next_reclaim:
            return []
        self._next_reclaim = clock + min(1.0, visibility / 4)
        got: list[_Row] = []
        for stream in self.streams:
            want = limit - len(got)
            if want <= 0:
                break
            cursor, rows, poisoned, created = await self._script(
                "claim",
                stream,
                self.consumer,
                max(1, int(visibility * 1000)),
                self._cursors.get(stream, "0-0"),
                want,
                self.max_deliveries,
                repr(now),
                mode,
                *sources,
            )
            self._cursors[stream] = cursor
            if created:
                log.warning("redis_group_recreated", streams=[stream], consumer=self.consumer)
            got += self._rows(rows, poisoned)
        if clock >= self._next_prune:
            self._next_prune = clock + _PRUNE_EVERY
            await self._prune_consumers()
        return got

    async def _read(
        self,
        client: Redis,
        want: int,
        now: float,
        mode: str,
        sources: Collection[str],
        block_ms: int,
    ) -> list[_Row]:
        """New entries for this consumer, live lane first; blocks briefly when there are none."""
        got: list[_Row] = []
        lanes = self.streams[:2]
        try:
            for stream in lanes:
                if want - len(got) <= 0:
                    break
                reply = await client.xreadgroup(
                    GROUP, self.consumer, {stream: ">"}, count=want - len(got)
                )
                got += await self._mark(reply, want - len(got), now, mode, sources)
            if not got and block_ms > 0 and want > 0:
                reply = await client.xreadgroup(
                    GROUP, self.consumer, dict.fromkeys(lanes, ">"), count=want, block=block_ms
                )
                got += await self._mark(reply, want, now, mode, sources)
        except rexc.ResponseError as exc:
            if not lost_group(exc):
                raise
            log.warning("redis_group_lost", error=str(exc))
            await self._setup()
        return got

    async def _mark(
        self, reply: Any, cap: int, now: float, mode: str, sources: Collection[str]
    ) -> list[_Row]:
        got: list[_Row] = []
        for stream, entries in reply or []:
            triples: list[Any] = []
            for eid, fields in entries:
                triples += [eid, (fields or {}).get(b"q", b""), (fields or {}).get(b"d", b"0")]
            if not triples:
                continue
            rows, poisoned = await self._script(
                "mark",
                stream,
                cap - len(got),
                self.max_deliveries,
                repr(now),
                mode,
                len(sources),
                *sources,
                *triples,
            )
            got += self._rows(rows, poisoned)
        return got

    async def _take(
        self, limit: int, horizon: float, now: float, mode: str, sources: Collection[str]
    ) -> list[_Row]:
        rows, poisoned = await self._script(
            "take",
            self.consumer,
            repr(horizon),
            limit,
            self.max_deliveries,
            repr(now),
            mode,
            *sources,
        )
        return self._rows(rows, poisoned)

    def on_poison(self, listener: Callable[[PoisonedDial], None]) -> None:
        """Call ``listener`` for each dial dead-lettered as poison (``ReportsPoison``)."""
        self._poison_listeners.append(listener)

    def _rows(self, rows: Any, poisoned: Any) -> list[_Row]:
        for qid, source, dial_id, deliveries in poisoned:
            dead = PoisonedDial(qid.decode(), source.decode(), dial_id.decode(), int(deliveries))
            log.error(
                "dial_poisoned",
                queue_id=dead.id,
                source=dead.source,
                dial_id=dead.dial_id,
                deliveries=dead.deliveries,
            )
            for listener in self._poison_listeners:
                try:
                    listener(dead)
                except Exception:  # a listener's bug must not lose the lease's dials
                    log.exception("poison_listener_failed", queue_id=dead.id)
        out = []
        for qid, source, dial_id, payload, attempts, received, kind, lane, due in rows:
            dial = LeasedDial(
                id=qid.decode(),
                source=source.decode(),
                dial_id=dial_id.decode(),
                payload=bytes(payload),
                attempts=int(attempts),
                received_at=float(received),
                kind=kind.decode(),
            )
            out.append(((int(lane), float(due), int(qid)), dial))
        return out

    async def _prune_consumers(self) -> None:
        client = self._require()
        for stream in self.streams:
            for info in await client.xinfo_consumers(stream, GROUP):
                name = as_text(info.get("name", b""))
                if (
                    name != self.consumer
                    and int(info.get("pending", 0)) == 0
                    and int(info.get("idle", 0)) > _PRUNE_IDLE_MS
                ):
                    await client.xgroup_delconsumer(stream, GROUP, name)


_REPORTS: type[ReportsPoison] = RedisLeasing  # mypy checks the optional role
